using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Thaw.Resources;
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
    // What the zygotes' cgroup holds, read every 2 s (the budget reads zygote memory under its lock).
    private long _zygoteCgroupBytes;
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

    /// <summary>The handler cache: public for hosts that run thawd in-process and hold sandboxes directly (thaw bench density).</summary>
    public HandlerCache Cache { get; private set; } = null!;

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
            RaiseOpenFilesLimit(options.OpenFilesLimit, logger); // before the zygote starts: it inherits it
            thawd.Host = ResourceHost.Start(options.Resources, logger);
            Log.KernelPaths(logger, KernelPaths.Describe(thawd.Host));
            options.Python.Packages ??= options.InstallCache();
            // Zygotes see the install cache at /packages too: a child zygote that imports a function's
            // installed packages must find them where the function's sandboxes do.
            Directory.CreateDirectory(options.Python.Packages.Root);
            options.Sandboxes.Zygote.PackagesDir ??= options.Python.Packages.Root;
            // The zygotes' cgroup grows with the live sandboxes (pages a zygote copied while they map
            // the old ones): up to the node's budget, which counts it (ZygoteBytes) and refuses
            // sandboxes before the kernel would have to kill a zygote for them.
            options.Sandboxes.Zygote.MemoryLimitBytes = Math.Max(options.Sandboxes.Zygote.MemoryLimitBytes, options.HandlerCache.MemoryBudgetBytes);
            thawd.Spawner = new SandboxSpawner(thawd.Host, options.Sandboxes, logger);
            thawd.Python = new PythonRuntime(thawd.Spawner, options.Python, logger);
            thawd._rootZygoteBytes = thawd.Spawner.Zygote.MemoryBytes();
            thawd.Registry = FunctionRegistry.Open(options.RegistryPath);
            thawd.Code = new CodeStore(options.Resources.StateDir);
            thawd.Cache = new HandlerCache(options.HandlerCache, thawd.StartSandboxAsync, thawd.ZygoteBytes, logger);
            thawd.Deployer = new Deployer(thawd);
            var exec = new ExecInvoker(thawd.Cache, new Thaw.Runtimes.Exec.ExecRuntime(thawd.Spawner, options.Exec), thawd.Metrics, thawd.LogOf);
            thawd.Invoker = new Invoker(thawd.Cache, exec, thawd.Metrics, thawd.LogOf);
            thawd.LoadRegistry();
            thawd.Metrics.Observe(thawd.Host.Stats, thawd.Cache.Stats, thawd.ZygoteCensus);
            thawd.Metrics.ObservePressure(() => thawd.Host.Cgroups.PressureDirectory);
            thawd.MeasureZygotesQuietly();
            thawd._codeCollector = new Timer(_ =>
            {
                thawd.CollectRetiredCodeQuietly();
                thawd.MeasureZygotesQuietly();
            }, null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2));
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

    private static void RaiseOpenFilesLimit(long wanted, ILogger logger)
    {
        if (wanted == 0)
            return;
        try
        {
            Thaw.Linux.Processes.OpenFilesLimit.Raise(wanted);
        }
        catch (Thaw.Linux.LinuxException e)
        {
            Log.OpenFilesLimitKept(logger, wanted, Thaw.Linux.Processes.OpenFilesLimit.Get().Soft, e.Message);
        }
    }

    /// <summary>The function's recent log (made on first use, with what its file kept from before a restart).</summary>
    internal FunctionLog LogOf(string name) => _logs.GetOrAdd(name, n => new FunctionLog(Options.FunctionLogBytes, Options.LogPath(n)));

    internal bool HasLog(string name) => _logs.ContainsKey(name);

    /// <summary>Drops a function's log, in memory and on disk (loaded or not).</summary>
    internal void RemoveLog(string name)
    {
        if (_logs.TryRemove(name, out var log))
            log.Delete();
        FunctionLog.DeleteFiles(Options.LogPath(name));
    }

    /// <summary>The handler cache's way to start a sandbox: the Python runtime, its output into the function's log.</summary>
    private Task<PythonSandbox> StartSandboxAsync(Deployment deployment, ReadOnlyMemory<byte>? firstEvent) =>
        Python.StartAsync(deployment.Manifest, deployment.CodeDir, version: deployment.Version, output: LogOf(deployment.Name).For(deployment.Version),
            first: firstEvent is { } e ? new FirstCall(e, deployment.Manifest.Timeout) : null);

    /// <summary>Root zygote (measured once at start) plus the import cache's nodes (measured when built).</summary>
    /// <summary>
    /// The zygotes' memory for the budget: their cgroup's usage when it is more than their PSS. Besides
    /// the zygotes it holds pages a zygote copied after a fork while a live sandbox still maps the old
    /// copy (the kernel keeps a page charged where it was first charged): they grow with the live
    /// sandboxes, and no sandbox's own cgroup counts them.
    /// </summary>
    private long ZygoteBytes() => Math.Max(_rootZygoteBytes + (Python.ImportCache?.Nodes.Sum(n => n.MemoryBytes) ?? 0), Volatile.Read(ref _zygoteCgroupBytes));

    private void MeasureZygotesQuietly()
    {
        try { Volatile.Write(ref _zygoteCgroupBytes, Spawner.Zygote.Cgroup.MemoryUsageBytes()); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Thaw.Linux.LinuxException or FormatException) { }
    }

    private (int Count, long Bytes, long Evictions) ZygoteCensus() =>
        (1 + (Python.ImportCache?.Nodes.Count ?? 0), ZygoteBytes(), Python.ImportCache?.Evictions ?? 0);

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
        foreach (var log in _logs.Values)
            log.Dispose();
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
