using System.Diagnostics;
using System.Security.Cryptography;
using Thaw.Runtimes.Functions;
using Thaw.Runtimes.Python;
using Thaw.Service.Functions;
using Thaw.Service.Registry;

namespace Thaw.Service.Deploy;

/// <summary>
/// A deploy, top to bottom: the archive unpacked into a staging dir (zip-slip, links and sizes
/// checked), its thaw.toml and requirements.txt validated, its packages resolved and installed in
/// the install cache, the staging dir committed as the next version, one sandbox started to prove
/// the handler loads (and, if it imports packages, its zygote built), then the registry updated and
/// the handler cache switched to it. Anything refused before the registry update leaves no trace:
/// the old version keeps serving and its record is untouched.
/// </summary>
public sealed class Deployer(Thawd thawd)
{

    public async Task<DeployResult> DeployAsync(string name, Stream archive, CancellationToken token)
    {
        if (!FunctionNames.IsValid(name))
            throw new DeployException(400, "bad_name", $"function name '{name}' must be 1-63 characters of a-z, 0-9 and '-', starting with a letter");
        // Deploys are rare and slow (installs, a validation start): one at a time keeps versions and
        // the zygote tree simple to reason about.
        await thawd.FunctionChanges.WaitAsync(token).ConfigureAwait(false);
        string staging = thawd.Code.NewStaging();
        string? committed = null;
        int version = 0;
        try
        {
            long started = Stopwatch.GetTimestamp();
            string sha256 = await UnpackAsync(archive, staging, token).ConfigureAwait(false);
            double extractMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var manifest = ReadManifest(name, staging);

            bool python = manifest.Runtime == "python";
            long packagesStarted = Stopwatch.GetTimestamp();
            IReadOnlyList<string> paths = [];
            try
            {
                if (python)
                    paths = await thawd.Python.PreparePackagesAsync(manifest).ConfigureAwait(false);
            }
            catch (FunctionStartException e)
            {
                throw new DeployException(400, "bad_packages", e.Message, inner: e);
            }
            double packagesMs = Stopwatch.GetElapsedTime(packagesStarted).TotalMilliseconds;
            if (python)
                await thawd.Python.CompileAsync(staging).ConfigureAwait(false);

            var previous = thawd.Registry.Get(name);
            version = thawd.Registry.NextVersion(name);
            committed = thawd.Code.Commit(staging, name, version);
            var deployment = new Deployment(name, version, committed, manifest, DateTimeOffset.UtcNow);

            long validateStarted = Stopwatch.GetTimestamp();
            // An exec function is not run at deploy (a call may have effects); its command was checked to exist.
            var (zygote, seen) = !python ? ("none", []) : thawd.Options.ValidateOnDeploy ? await ValidateAsync(deployment).ConfigureAwait(false) : ("root", []);
            var modules = thawd.Python.ImportCache?.ModulesOf(name) ?? [];
            double validateMs = Stopwatch.GetElapsedTime(validateStarted).TotalMilliseconds;

            var installed = paths.Select(Path.GetFileName).OfType<string>().ToList();
            thawd.Registry.Put(new FunctionRecord(name, version, committed, sha256, deployment.DeployedAt, installed, zygote, modules));
            thawd.Cache.Deploy(deployment);
            if (previous is not null)
                thawd.RetireCode(name, previous.Version);
            thawd.Metrics.Deploy("ok");
            return new DeployResult(deployment, previous is null, installed, zygote, seen, extractMs, packagesMs, validateMs);
        }
        catch (Exception e)
        {
            if (committed is not null)
                thawd.Code.Remove(name, version);
            else if (Directory.Exists(staging))
                Directory.Delete(staging, recursive: true);
            thawd.Metrics.Deploy(e is DeployException d ? d.Code : "error");
            throw;
        }
        finally
        {
            thawd.FunctionChanges.Release();
        }
    }

    private async Task<string> UnpackAsync(Stream archive, string staging, CancellationToken token)
    {
        using var sha = SHA256.Create();
        await using var hashing = new CryptoStream(archive, sha, CryptoStreamMode.Read, leaveOpen: true);
        try
        {
            // Async: Kestrel refuses synchronous reads of a request body.
            await FunctionArchive.ExtractAsync(hashing, staging, thawd.Options.Archives, token).ConfigureAwait(false);
            // Whatever the extractor left unread still belongs to the archive's digest.
            await hashing.CopyToAsync(Stream.Null, token).ConfigureAwait(false);
        }
        catch (ArchiveException e)
        {
            throw new DeployException(e.TooLarge ? 413 : 400, e.TooLarge ? "too_large" : "bad_archive", e.Message, inner: e);
        }
        return Convert.ToHexStringLower(sha.Hash!);
    }

    private FunctionManifest ReadManifest(string name, string dir)
    {
        if (!File.Exists(Path.Combine(dir, FunctionManifest.FileName)))
            throw new DeployException(400, "bad_manifest", $"the archive has no {FunctionManifest.FileName} at its top (or in its single top-level directory)");
        FunctionManifest manifest;
        try
        {
            manifest = FunctionManifest.Load(dir);
        }
        catch (Exception e) when (e is ManifestException or IOException)
        {
            throw new DeployException(400, "bad_manifest", e.Message, inner: e);
        }
        if (manifest.Name != name)
            throw new DeployException(400, "bad_manifest", $"{FunctionManifest.FileName} names the function '{manifest.Name}', but it is deployed as '{name}'");
        // No sandbox of it could ever start: refused now, not with a 503 on every call.
        long budget = thawd.Cache.Options.MemoryBudgetBytes;
        if (manifest.MemoryBytes > budget)
            throw new DeployException(400, "bad_manifest", $"memory {manifest.MemoryBytes >> 20} MiB is more than the node's memory budget ({budget >> 20} MiB, thaw serve --memory-budget): no sandbox of it could start");
        if (manifest.Runtime == "exec")
            CheckCommand(manifest, dir);
        return manifest;
    }

    /// <summary>
    /// An exec function's program must exist where its sandbox will look: a path inside /handler
    /// (or relative to it, the working directory) in the function's code, executable; another absolute
    /// path, or a bare name on the sandbox's PATH, in the base image (the host's /usr, /etc, /bin).
    /// </summary>
    private void CheckCommand(FunctionManifest manifest, string dir)
    {
        if (manifest.Packages.Count > 0)
            throw new DeployException(400, "bad_manifest", "packages are for the python runtime; an exec function brings its program in its code");
        string program = manifest.Command[0];
        string? found = program switch
        {
            _ when program.StartsWith("/handler/", StringComparison.Ordinal) => InCode(dir, program["/handler/".Length..]),
            _ when program.StartsWith('/') => BaseImageDirs.Any(d => program.StartsWith(d, StringComparison.Ordinal)) && File.Exists(program) ? program : null,
            _ when program.Contains('/') => InCode(dir, program),
            _ => thawd.Spawner.DefaultEnvironment.GetValueOrDefault("PATH", "/usr/bin:/bin").Split(':')
                .Select(p => Path.Combine(p, program)).FirstOrDefault(File.Exists),
        };
        if (found is null)
            throw new DeployException(400, "bad_manifest", $"command '{program}' is neither in the function's code (run from /handler) nor in the base image");
        if (!File.GetUnixFileMode(found).HasFlag(UnixFileMode.OtherExecute))
            throw new DeployException(400, "bad_manifest", $"command '{program}' is not executable by the sandbox's user (chmod o+x, or a+x, before packing)");
    }

    /// <summary>Where a sandbox's root has the host's files (read-only binds of /usr and /etc; /bin, /sbin and /lib lead into /usr).</summary>
    private static readonly string[] BaseImageDirs = ["/usr/", "/etc/", "/bin/", "/sbin/", "/lib"];

    /// <summary>A file of the function's code, if it is one (never a path that leaves the code dir).</summary>
    private static string? InCode(string dir, string relative)
    {
        string full = Path.GetFullPath(Path.Combine(dir, relative));
        return full.StartsWith(Path.GetFullPath(dir) + "/", StringComparison.Ordinal) && File.Exists(full) ? full : null;
    }

    /// <summary>One real start of the new code: a handler that does not load is refused here, with its traceback.</summary>
    private async Task<(string Zygote, IReadOnlyList<string> Seen)> ValidateAsync(Deployment deployment)
    {
        var cache = thawd.Python.ImportCache;
        // What the old code loaded says nothing about the new code.
        cache?.Forget(deployment.Name);
        try
        {
            var sandbox = await thawd.Python.StartAsync(deployment.Manifest, deployment.CodeDir, version: deployment.Version,
                output: thawd.LogOf(deployment.Name).For(deployment.Version)).ConfigureAwait(false);
            await sandbox.DisposeAsync().ConfigureAwait(false);
        }
        catch (FunctionStartException e)
        {
            cache?.Forget(deployment.Name);
            string code = e.InitTimeout is not null ? "init_timeout" : e.FunctionsFault ? "bad_handler" : "start_failed";
            throw new DeployException(e.FunctionsFault ? 400 : 500, code, $"{e.Message} (phase: {e.Phase})", e.Traceback, e);
        }
        if (cache is null)
            return ("root", []);
        var seen = cache.PackagesOf(deployment.Name);
        if (seen.Count == 0)
            return ("root", []);
        // Its zygote now, so the first call already forks from a process that imported its packages.
        try
        {
            await cache.PrepareAsync(deployment.Name).ConfigureAwait(false);
        }
        catch (Exception e) when (e is Thaw.Sandboxes.Zygotes.ZygoteException or TimeoutException)
        {
            thawd.LogOf(deployment.Name).Note(deployment.Version, $"building its zygote failed ({e.Message}); its sandboxes fork from the root zygote");
        }
        var node = cache.NodeFor(deployment.Name);
        return (node is null ? "root" : string.Join(",", node.Packages.Order(StringComparer.Ordinal)), [.. seen]);
    }
}
