using Thaw.Runtimes.Functions;
using Thaw.Service.Functions;

namespace Thaw.Service;

/// <summary>thawd's functions over its lifetime: loaded from the registry at start, old versions' code collected after they drain, removed.</summary>
public sealed partial class Thawd
{
    /// <summary>The functions of the last run, each at its current version; code the registry does not name is swept.</summary>
    private void LoadRegistry()
    {
        var records = Registry.List();
        var swept = Code.Sweep(records.Select(r => (r.Name, r.Version)));
        if (swept.Count > 0)
            Log.SweptCode(_logger, swept.Count);
        SweepLogs(records.Select(r => r.Name));
        var zygotes = new List<IReadOnlyList<string>>();
        foreach (var record in records)
        {
            try
            {
                var manifest = FunctionManifest.Load(record.CodeDir);
                Cache.Deploy(new Deployment(record.Name, record.Version, record.CodeDir, manifest, record.DeployedAt));
            }
            catch (Exception e) when (e is ManifestException or IOException)
            {
                Log.FunctionUnloadable(_logger, record.Name, record.Version, e.Message);
                continue;
            }
            // What its deploy saw it import: its first call after a restart forks from that zygote again.
            if (record.Modules.Count > 0 && Python.ImportCache is { } cache)
            {
                cache.Learn(record.Name, record.Modules);
                zygotes.Add(record.Modules);
            }
        }
        if (Options.ZygoteSeed is { } seed)
            zygotes.AddRange(Thaw.Runtimes.Python.ImportCache.ReadSeed(seed));
        if (zygotes.Count > 0 && Python.ImportCache is { } importCache)
            _ = Task.Run(async () =>
            {
                try { await importCache.SeedAsync(zygotes).ConfigureAwait(false); }
                catch (Exception e) when (e is Thaw.Sandboxes.Zygotes.ZygoteException or TimeoutException or ObjectDisposedException)
                {
                    Log.SeedFailed(_logger, e.Message);
                }
            });
    }

    /// <summary>Log files of functions the registry does not name (removed while thawd died, a refused first deploy) go.</summary>
    private void SweepLogs(IEnumerable<string> registered)
    {
        var keep = registered.Select(Options.LogPath).ToHashSet(StringComparer.Ordinal);
        if (!Directory.Exists(Options.LogDir))
            return;
        foreach (var file in Directory.EnumerateFiles(Options.LogDir, "*.log"))
            if (!keep.Contains(file))
                FunctionLog.DeleteFiles(file);
    }

    /// <summary>An older version's code goes once no sandbox of it is left (they drain after a redeploy).</summary>
    internal void RetireCode(string name, int version)
    {
        lock (_retired)
            _retired.Add((name, version));
        CollectRetiredCode();
    }

    /// <summary>The timer's collection: a timer callback that throws would end thawd, so its failure is logged.</summary>
    private void CollectRetiredCodeQuietly()
    {
        try { CollectRetiredCode(); }
        catch (Exception e) { Log.CodeCollectFailed(_logger, e); }
    }

    private void CollectRetiredCode()
    {
        List<(string Name, int Version)> done;
        lock (_retired)
        {
            done = [.. _retired.Where(r => !Cache.InUse(r.Name, r.Version))];
            _retired.RemoveAll(done.Contains);
        }
        foreach (var (name, version) in done)
        {
            try { Code.Remove(name, version); }
            catch (IOException e) { Log.CodeRemoveFailed(_logger, name, version, e.Message); }
        }
    }

    /// <summary>Removes a function: its sandboxes drain and stop, its code and record go. False if there is no such function.</summary>
    internal async Task<(bool Removed, int Sandboxes)> RemoveAsync(string name)
    {
        await FunctionChanges.WaitAsync().ConfigureAwait(false);
        try
        {
            var record = Registry.Get(name);
            if (record is null)
                return (false, 0);
            Registry.Remove(name);
            int sandboxes = await Cache.RemoveAsync(name).ConfigureAwait(false);
            Python.Forget(name); // its Morula pool, what the import cache learned
            lock (_retired)
                _retired.RemoveAll(r => r.Name == name);
            Code.RemoveAll(name);
            RemoveLog(name);
            return (true, sandboxes);
        }
        finally
        {
            FunctionChanges.Release();
        }
    }
}
