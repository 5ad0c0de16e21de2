using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Thaw.Resources;
using Thaw.Runtimes.Functions;
using Thaw.Runtimes.Python;
using Thaw.Sandboxes;
using Thaw.Service.Deploy;
using Thaw.Service.Functions;
using Thaw.Service.Http;
using Thaw.Service.Metrics;
using Thaw.Service.Registry;
using Thaw.Service.Scheduling;

namespace Thaw.Service;

/// <summary>
/// The Thaw service: resource pools, the zygote and the Python runtime (with the import and install
/// caches), the registry and code store, the handler cache, metrics, and the HTTP API on Kestrel.
/// Started as a whole and stopped as a whole: in-flight calls finish, every sandbox and zygote
/// stops, every pooled kernel object is removed. What a crashed predecessor left is swept at start.
/// </summary>
public sealed partial class Thawd : IAsyncDisposable
{
    private readonly List<(string Name, int Version)> _retired = [];
    private readonly ConcurrentDictionary<string, FunctionLog> _logs = new(StringComparer.Ordinal);
    private readonly ILogger _logger;
    private long _rootZygoteBytes;
    private WebApplication? _web;
    private Timer? _codeCollector;

    private Thawd(ThawdOptions options, ILogger logger)
    {
        Options = options;
        _logger = logger;
    }

    public ThawdOptions Options { get; }

    /// <summary>The API's base URL (the bound port when listening on port 0).</summary>
    public Uri Url { get; private set; } = null!;

    internal ResourceHost Host { get; private set; } = null!;

    internal SandboxSpawner Spawner { get; private set; } = null!;

    internal PythonRuntime Python { get; private set; } = null!;

    internal FunctionRegistry Registry { get; private set; } = null!;

    internal CodeStore Code { get; private set; } = null!;

    internal HandlerCache Cache { get; private set; } = null!;

    internal ThawMetrics Metrics { get; } = new();

    internal Deployer Deployer { get; private set; } = null!;

    internal Invoker Invoker { get; private set; } = null!;

    /// <summary>
    /// Deploys and removals, one at a time: a removal's code cleanup must not meet a deploy of the
    /// same name half-way (it would delete the new version's directory).
    /// </summary>
    internal SemaphoreSlim FunctionChanges { get; } = new(1, 1);

    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    /// <summary>Starts everything; on any failure what was started is stopped again and the error says why.</summary>
    public static async Task<Thawd> StartAsync(ThawdOptions options, ILoggerFactory loggers)
    {
        options.Validate();
        var logger = loggers.CreateLogger("thawd");
        var thawd = new Thawd(options, logger);
        try
        {
            thawd.Host = ResourceHost.Start(options.Resources, logger);
            thawd.Spawner = new SandboxSpawner(thawd.Host, options.Sandboxes, logger);
            options.Python.Packages ??= options.InstallCache();
            thawd.Python = new PythonRuntime(thawd.Spawner, options.Python, logger);
            thawd._rootZygoteBytes = thawd.Spawner.Zygote.MemoryBytes();
            thawd.Registry = FunctionRegistry.Open(options.RegistryPath);
            thawd.Code = new CodeStore(options.Resources.StateDir);
            thawd.Cache = new HandlerCache(options.HandlerCache, thawd.StartSandboxAsync, thawd.ZygoteBytes, logger);
            thawd.Deployer = new Deployer(thawd);
            thawd.Invoker = new Invoker(thawd.Cache, thawd.Metrics, thawd.LogOf);
            thawd.LoadRegistry();
            thawd.Metrics.Observe(thawd.Host.Stats, thawd.Cache.Stats, thawd.ZygoteCensus);
            thawd._codeCollector = new Timer(_ => thawd.CollectRetiredCode(), null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2));
            await thawd.StartHttpAsync(loggers).ConfigureAwait(false);
            await thawd.WarmUpAsync().ConfigureAwait(false);
            Log.Started(logger, thawd.Url.ToString(), options.Resources.StateDir, thawd.Cache.Stats().Functions.Count);
            return thawd;
        }
        catch
        {
            await thawd.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The function's recent log (made on first use).</summary>
    internal FunctionLog LogOf(string name) => _logs.GetOrAdd(name, _ => new FunctionLog(Options.FunctionLogBytes));

    internal bool HasLog(string name) => _logs.ContainsKey(name);

    /// <summary>The handler cache's way to start a sandbox: the Python runtime, its output into the function's log.</summary>
    private Task<PythonSandbox> StartSandboxAsync(Deployment deployment) =>
        Python.StartAsync(deployment.Manifest, deployment.CodeDir, version: deployment.Version, output: LogOf(deployment.Name).For(deployment.Version));

    /// <summary>Root zygote (measured once at start) plus the import cache's nodes (measured when built).</summary>
    private long ZygoteBytes() => _rootZygoteBytes + (Python.ImportCache?.Nodes.Sum(n => n.MemoryBytes) ?? 0);

    private (int Count, long Bytes, long Evictions) ZygoteCensus() =>
        (1 + (Python.ImportCache?.Nodes.Count ?? 0), ZygoteBytes(), Python.ImportCache?.Evictions ?? 0);

    /// <summary>The functions of the last run, each at its current version; code the registry does not name is swept.</summary>
    private void LoadRegistry()
    {
        var records = Registry.List();
        var swept = Code.Sweep(records.Select(r => (r.Name, r.Version)));
        if (swept.Count > 0)
            Log.SweptCode(_logger, swept.Count);
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

    /// <summary>An older version's code goes once no sandbox of it is left (they drain after a redeploy).</summary>
    internal void RetireCode(string name, int version)
    {
        lock (_retired)
            _retired.Add((name, version));
        CollectRetiredCode();
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
            Python.ImportCache?.Forget(name);
            lock (_retired)
                _retired.RemoveAll(r => r.Name == name);
            Code.RemoveAll(name);
            _logs.TryRemove(name, out _);
            return (true, sandboxes);
        }
        finally
        {
            FunctionChanges.Release();
        }
    }

    private async Task StartHttpAsync(ILoggerFactory loggers)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Services.AddSingleton(loggers);
        builder.Services.AddSingleton(this);
        // Requests run on the socket's I/O thread instead of being queued to the thread pool: one
        // thread wake-up fewer per request, which on a VM that halts idle vCPUs is most of the
        // latency of a call that arrives after idle. Safe here: no endpoint blocks (every wait is awaited).
        builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = true);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            Endpoint.TryParse(Options.Listen, out var endpoint);
            kestrel.Listen(endpoint);
            if (Options.UnixSocket is { } socket)
            {
                if (File.Exists(socket))
                    File.Delete(socket); // a crashed predecessor's: nobody listens on it
                kestrel.ListenUnixSocket(socket);
            }
            // The deploy endpoint sets its own limit (archives); everything else is an event at most.
            kestrel.Limits.MaxRequestBodySize = Options.MaxEventBytes;
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = Options.HandlerCache.DrainTimeout);
        // thawd's owner (thaw serve, a test, the demo) decides when it stops; the default console
        // lifetime would also take SIGTERM and end the process while the sandboxes are being stopped.
        builder.Services.AddSingleton<IHostLifetime, OwnedLifetime>();
        _web = builder.Build();
        ThawApi.Map(_web, this);
        await _web.StartAsync().ConfigureAwait(false);
        if (Options.UnixSocket is { } path)
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var addresses = _web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        Url = new Uri(addresses.First(a => a.StartsWith("http://", StringComparison.Ordinal)).Replace("[::]", "localhost", StringComparison.Ordinal));
    }

    private const string WarmUpFunction = "thaw-warm-up";

    /// <summary>
    /// Calls a function of thawd's own through its HTTP API before it says ready: the first request
    /// through Kestrel, routing, the handler cache's cold and warm paths, the Python runtime's start
    /// and invoke, and the JSON writers pays their JIT (50–100 ms here), which should not land on the
    /// first user's cold start. The function lives only in the handler cache (never in the registry)
    /// and is removed again, with its sandbox and code.
    /// </summary>
    private async Task WarmUpAsync()
    {
        string dir = Path.Combine(Options.Resources.StateDir, WarmUpFunction);
        try
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, FunctionManifest.FileName), $"name = \"{WarmUpFunction}\"\nmemory = \"32M\"\n");
            File.WriteAllText(Path.Combine(dir, "f.py"), "def f(event):\n    return event\n");
            Cache.Deploy(new Deployment(WarmUpFunction, 1, dir, FunctionManifest.Load(dir), DateTimeOffset.UtcNow));
            using var http = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(30) };
            for (int i = 0; i < 3; i++)
            {
                using var health = await http.GetAsync("healthz").ConfigureAwait(false);
                using var invoke = await http.PostAsync($"v1/functions/{WarmUpFunction}/invoke", new StringContent("{}")).ConfigureAwait(false);
                using var missing = await http.PostAsync("v1/functions/thaw-no-such-function/invoke", new StringContent("{}")).ConfigureAwait(false);
                using var stats = await http.GetAsync("v1/stats").ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException or ManifestException)
        {
            Log.WarmUpFailed(_logger, e.Message);
        }
        finally
        {
            await Cache.RemoveAsync(WarmUpFunction).ConfigureAwait(false);
            Python.ImportCache?.Forget(WarmUpFunction);
            _logs.TryRemove(WarmUpFunction, out _);
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Stops accepting requests, lets calls in flight finish, then stops every sandbox, zygote and pool.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_web is not null)
        {
            try { await _web.StopAsync().ConfigureAwait(false); }
            catch (OperationCanceledException) { }
            await _web.DisposeAsync().ConfigureAwait(false);
            _web = null;
        }
        if (_codeCollector is not null)
            await _codeCollector.DisposeAsync().ConfigureAwait(false);
        if (Cache is not null)
            await Cache.DisposeAsync().ConfigureAwait(false);
        if (Python is not null)
            await Python.DisposeAsync().ConfigureAwait(false);
        if (Spawner is not null)
            await Spawner.DisposeAsync().ConfigureAwait(false);
        Host?.Dispose();
        Registry?.Dispose();
        if (Options.UnixSocket is { } socket && File.Exists(socket))
            File.Delete(socket);
        Log.Stopped(_logger);
    }
}

/// <summary>A host lifetime that leaves starting and stopping to whoever owns thawd.</summary>
internal sealed class OwnedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
