using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Thaw.Resources.Cgroups;
using Thaw.Runtimes.Functions;
using Thaw.Runtimes.Packages;
using Thaw.Sandboxes;
using Thaw.Sandboxes.Zygotes;

namespace Thaw.Runtimes.Python;

/// <summary>
/// Starts Python functions' sandboxes: each is forked from the zygote (which already holds the
/// interpreter and the runtime), enters its pooled resources, imports the function's handler
/// module once and reports ready over its invoke socket; only then is it handed out.
/// </summary>
public sealed class PythonRuntime : IAsyncDisposable
{
    private readonly SandboxSpawner _spawner;
    private readonly PythonRuntimeOptions _options;
    private readonly Dictionary<string, MorulaPool> _morula = [];
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, IReadOnlyList<string>> _packagePaths = new();

    public PythonRuntime(SandboxSpawner spawner, PythonRuntimeOptions options, ILogger logger)
    {
        if (options.Paths.Any(p => !p.StartsWith('/')))
            throw new ArgumentException("PythonRuntimeOptions.Paths must be absolute paths inside the sandbox");
        _spawner = spawner;
        _options = options;
        ImportCache = options.ImportCache is { } cache ? new ImportCache(spawner, cache, options.Paths, logger) : null;
        InstallCache = options.Packages is { } packages ? new InstallCache(spawner, packages) : null;
    }

    /// <summary>Where functions' packages are installed, once per version; null when not configured.</summary>
    public InstallCache? InstallCache { get; }

    /// <summary>
    /// Compiles a function's Python sources to .pyc (<c>__pycache__</c> beside each), once, at
    /// deploy. Its code dir is read-only in every sandbox, so otherwise each cold start compiles the
    /// handler module again (0.1 ms for hello, tens of ms for a large module). Runs in a sandbox, as
    /// package installs do (the code is the user's; compiling never runs it, but nothing of it is
    /// parsed as root either), with the code at /handler so tracebacks name /handler paths. A file that
    /// does not compile is left as it is: the deploy's validation start reports its syntax error.
    /// </summary>
    public async Task CompileAsync(string codeDir)
    {
        // Symlinks skipped, not followed (one may point at a dir of the code, even at its parent).
        var walk = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint };
        var dirs = Directory.EnumerateDirectories(codeDir, "*", walk).Append(codeDir).ToList();
        try
        {
            // The sandbox's uid may add __pycache__ dirs to the code's dirs while it runs, nothing more.
            foreach (var dir in dirs)
                Thaw.Linux.Files.Owner.Set(dir, 65534, 65534);
            var sandbox = await _spawner.RunAsync(new SandboxSpec
            {
                Argv = ["/usr/bin/python3", "-I", "-S", "-m", "compileall", "-q", "/handler"],
                CodeDir = codeDir,
                CodeWritable = true,
                Limits = new CgroupLimits(256L << 20, 1.0, 16),
                Timeout = TimeSpan.FromSeconds(60),
                Hostname = "thaw-compile",
            }).ConfigureAwait(false);
            await sandbox.Exited.ConfigureAwait(false);
        }
        finally
        {
            // Back to root, with what it wrote: no sandbox may change a function's code.
            foreach (var entry in Directory.EnumerateFileSystemEntries(codeDir, "*", walk).Append(codeDir))
                Thaw.Linux.Files.Owner.Set(entry, 0, 0);
        }
    }

    /// <summary>
    /// Resolves and installs <paramref name="function"/>'s packages (what a deploy does first); the
    /// sys.path entries its sandboxes get. Bad requirements are a <see cref="FunctionStartException"/>
    /// in phase "packages", naming the package.
    /// </summary>
    public async Task<IReadOnlyList<string>> PreparePackagesAsync(FunctionManifest function)
    {
        if (function.Packages.Count == 0)
            return [];
        if (InstallCache is null)
            throw new FunctionStartException("packages", $"function '{function.Name}' lists packages, but this runtime has no install cache configured");
        string key = function.Name + "\n" + string.Join('\n', function.Packages);
        if (_packagePaths.TryGetValue(key, out var known))
            return known;
        try
        {
            var closure = await InstallCache.EnsureAsync(function.Packages, function.Name).ConfigureAwait(false);
            return _packagePaths[key] = InstallCache.SandboxPaths(closure);
        }
        catch (Exception e) when (e is PackageResolutionException or PackageInstallException)
        {
            throw new FunctionStartException("packages", $"function '{function.Name}': {e.Message}", inner: e);
        }
    }

    /// <summary>The zygote tree sandboxes fork from; null when disabled.</summary>
    public ImportCache? ImportCache { get; }

    /// <summary>
    /// Starts one sandbox of <paramref name="function"/> with its code at <paramref name="codeDir"/>.
    /// A handler that cannot load (missing, syntax error, import error, init raised) throws a
    /// <see cref="FunctionStartException"/> with Python's traceback; the sandbox is gone by then.
    /// The sandbox's stdout and stderr also go to <paramref name="output"/> as they arrive (a function's
    /// log); <paramref name="version"/> is the deploy the code belongs to (the handler's context shows it).
    /// <paramref name="first"/>, the call the sandbox is started for, is sent ahead of its ready frame.
    /// </summary>
    public async Task<PythonSandbox> StartAsync(FunctionManifest function, string codeDir, CancellationToken token = default, int version = 1,
        SandboxOutput? output = null, FirstCall? first = null)
    {
        if (function.Runtime != "python")
            throw new ArgumentException($"function '{function.Name}' uses the {function.Runtime} runtime, not python");
        var packagePaths = await PreparePackagesAsync(function).ConfigureAwait(false);
        var spec = new SandboxSpec
        {
            Runtime = RuntimeConfig(function, packagePaths, version),
            CodeDir = codeDir,
            PackagesDir = packagePaths.Count > 0 ? InstallCache!.Root : null,
            Limits = new CgroupLimits(function.MemoryBytes, _options.CpuQuota, _options.PidsMax),
            Environment = Environment(function),
            Hostname = "thaw-" + function.Name,
        };
        if (function.Isolation == FunctionIsolation.Fresh)
        {
            try
            {
                return await StartFreshAsync(function, spec, output, first, token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SandboxException or ZygoteException)
            {
                throw StartFailed(function, e);
            }
        }
        // The deepest zygote whose packages the function uses. One that dies before the sandbox is
        // ready is dropped and the start goes again (to its parent, or the root's replacement).
        var lease = ImportCache?.Acquire(function.Name);
        for (int attempt = 1; ; attempt++)
        {
            Sandbox sandbox;
            try
            {
                sandbox = await _spawner.RunAsync(spec, output?.Stdout, output?.Stderr, from: lease?.Node is null ? null : lease.Zygote).ConfigureAwait(false);
            }
            catch (ZygoteGoneException) when (attempt < _options.StartAttempts)
            {
                lease?.Lost();
                lease = ImportCache?.Acquire(function.Name);
                continue;
            }
            catch (Exception e)
            {
                lease?.Dispose();
                throw StartFailed(function, e);
            }
            var held = lease;
            if (held is not null)
                _ = sandbox.Exited.ContinueWith(_ => held.Dispose(), TaskScheduler.Default);
            try
            {
                // The root zygote may have been replaced since the lease was taken: the spawn went to the current one.
                var forkedFrom = held?.Node is null ? _spawner.Zygote : held.Zygote;
                var (python, modules) = await WaitReadyAsync(function, sandbox, first, forkedFrom, token).ConfigureAwait(false);
                ImportCache?.Learn(function.Name, modules);
                return python;
            }
            catch (ZygoteGoneException e)
            {
                if (attempt >= _options.StartAttempts)
                    throw StartFailed(function, e);
                lease = ImportCache?.Acquire(function.Name);
            }
        }
    }

    /// <summary>A sandbox that could not be made (its zygote refused, or kept dying): the start failed, as the caller reports it.</summary>
    private static Exception StartFailed(FunctionManifest function, Exception e) => e is SandboxException or ZygoteException
        ? new FunctionStartException("sandbox", $"function '{function.Name}': {e.Message}", inner: e)
        : e;

    /// <summary>
    /// Morula (isolation = "fresh"): the sandbox is one of the function's pool of exec'd interpreters
    /// (fresh ASLR) that imported its packages, kept by a zygote of its own and rebuilt when the
    /// function is seen to load more.
    /// </summary>
    private async Task<PythonSandbox> StartFreshAsync(FunctionManifest function, SandboxSpec spec, SandboxOutput? output, FirstCall? first, CancellationToken token)
    {
        var pool = await MorulaPoolAsync(function.Name).ConfigureAwait(false);
        Sandbox sandbox;
        try
        {
            sandbox = await _spawner.RunAsync(spec, output?.Stdout, output?.Stderr, from: pool.Zygote).ConfigureAwait(false);
        }
        catch
        {
            pool.Leave();
            throw;
        }
        _ = sandbox.Exited.ContinueWith(_ => pool.Leave(), TaskScheduler.Default);
        var (python, modules) = await WaitReadyAsync(function, sandbox, first, pool.Zygote, token).ConfigureAwait(false);
        if (!modules.All(pool.Modules.Contains)) // as reported (with their install cache dir), like pool.Modules
            lock (_morula)
                pool.Wanted ??= [.. pool.Modules.Union(modules).Order(StringComparer.Ordinal)]; // the next interpreters import it all
        return python;
    }

    /// <summary>
    /// Forgets a removed function: its Morula pool (if it had one) goes once its last sandbox has,
    /// and what the import cache learned of it is dropped.
    /// </summary>
    public void Forget(string function)
    {
        MorulaPool? pool;
        lock (_morula)
            _morula.Remove(function, out pool);
        pool?.Retire();
        ImportCache?.Forget(function);
    }

    /// <summary>Functions with a Morula pool now (for tests and stats).</summary>
    internal int MorulaPools
    {
        get { lock (_morula) return _morula.Count; }
    }

    /// <summary>The function's Morula pool, joined (call <see cref="MorulaPool.Leave"/> when the sandbox is gone).</summary>
    private async Task<MorulaPool> MorulaPoolAsync(string function)
    {
        MorulaPool? pool;
        lock (_morula)
        {
            if (_morula.TryGetValue(function, out pool) && pool.Zygote.IsAlive && pool.Wanted is null)
                return pool.Join();
        }
        IReadOnlyList<string> modules = pool?.Wanted ?? pool?.Modules ?? [];
        var (names, paths) = ImportCache.ForZygote(modules, _options.Paths);
        var zygote = await _spawner.Zygote.ForkAsync(names, paths, _options.InitTimeout, Math.Max(1, _options.MorulaPool), fresh: true).ConfigureAwait(false);
        var fresh = new MorulaPool(zygote, modules);
        MorulaPool? replaced;
        lock (_morula)
        {
            _morula.TryGetValue(function, out replaced);
            _morula[function] = fresh;
            fresh.Join();
        }
        replaced?.Retire(); // its zygote goes once its last sandbox has (closing it kills what it started)
        return fresh;
    }

    /// <summary>Waits for the sandbox's ready frame: its handler loaded, or why not (the sandbox is deleted then).</summary>
    private async Task<(PythonSandbox Python, IReadOnlyList<string> Modules)> WaitReadyAsync(FunctionManifest function, Sandbox sandbox,
        FirstCall? first, Zygote forkedFrom, CancellationToken token)
    {
        var frames = new FrameReader(sandbox.Channel!);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
            deadline.CancelAfter(InitTimeoutOf(function));
            if (first is not null)
            {
                try
                {
                    await InvocationFrames.WriteInvokeAsync(sandbox.Channel!, PythonSandbox.CallId(sandbox, 1), (long)first.Timeout.TotalMilliseconds, first.Event, deadline.Token).ConfigureAwait(false);
                }
                catch (SocketException)
                {
                    // A handler that failed to load may have sent its error frame and exited before
                    // the call went out (a broken pipe): that frame, read below, says why.
                }
            }
            JsonDocument? ready;
            string? broken = null;
            try
            {
                ready = await frames.ReadAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or EndOfStreamException)
            {
                // A sandbox that died with the first call unread resets the socket instead of closing it.
                ready = null;
            }
            catch (Exception e) when (e is InvalidDataException or JsonException)
            {
                // Not a frame (module init wrote on the invoke socket, say): it cannot be spoken to.
                ready = null;
                broken = e.Message;
                sandbox.Kill();
            }
            using var _ = ready;
            if (ready is null)
            {
                // Its zygote died under it before the handler loaded (a claimed parked child dies with
                // it, any other is killed through its cgroup): nothing of the call ran, it may start again.
                if (!forkedFrom.IsAlive)
                    throw new ZygoteGoneException($"sandbox {sandbox.Id}: its zygote {forkedFrom.Pid} died before the handler loaded");
                if (broken is not null)
                    throw new FunctionStartException("sandbox", $"function '{function.Name}': its sandbox broke the invoke protocol before the handler loaded ({broken}); it was killed");
                SandboxExit exited;
                try
                {
                    exited = await sandbox.Exited.WaitAsync(_options.KillTimeout, CancellationToken.None).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    throw new FunctionStartException("sandbox", $"function '{function.Name}': its sandbox stopped before the handler loaded (its exit not reported within {_options.KillTimeout.TotalSeconds:0.#} s)");
                }
                if (exited.ZygoteLost)
                    throw new ZygoteGoneException($"sandbox {sandbox.Id}: its zygote died before the handler loaded");
                throw await StoppedBeforeReadyAsync(function, sandbox, exited).ConfigureAwait(false);
            }
            try
            {
                return Ready(function, sandbox, frames, ready.RootElement, first, forkedFrom);
            }
            catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
            {
                sandbox.Kill();
                throw new FunctionStartException("sandbox", $"function '{function.Name}': its sandbox's ready frame is not one (PROTOCOL.md, \"Invocations\"); it was killed", inner: e);
            }
        }
        catch (Exception e)
        {
            await sandbox.DeleteAsync(_options.KillTimeout).ConfigureAwait(false);
            if (e is OperationCanceledException && !token.IsCancellationRequested)
                throw new FunctionStartException("init", $"function '{function.Name}': the handler module did not finish loading within {InitTimeoutText(function)}; its sandbox was killed", inner: e)
                {
                    InitTimeout = InitTimeoutOf(function),
                };
            throw;
        }
    }

    /// <summary>
    /// How long a start of <paramref name="function"/> may take to import its handler module and run
    /// its init: its <c>init_timeout</c>, else its <c>timeout</c> within [<see cref="PythonRuntimeOptions.MinInitTimeout"/>,
    /// <see cref="PythonRuntimeOptions.InitTimeout"/>] (a hung init holds a deploy or a cold start no longer than that).
    /// </summary>
    public TimeSpan InitTimeoutOf(FunctionManifest function) => function.InitTimeout
        ?? TimeSpan.FromTicks(Math.Clamp(function.Timeout.Ticks, Math.Min(_options.MinInitTimeout.Ticks, _options.InitTimeout.Ticks), _options.InitTimeout.Ticks));

    /// <summary>The init bound and where it came from, for people: "2s (its init_timeout)".</summary>
    private string InitTimeoutText(FunctionManifest function)
    {
        string bound = Units.FormatDuration(InitTimeoutOf(function));
        if (function.InitTimeout is not null)
            return $"{bound} (its init_timeout)";
        string timeout = Units.FormatDuration(function.Timeout);
        return InitTimeoutOf(function) == function.Timeout
            ? $"{bound} (its timeout; init_timeout sets another bound)"
            : $"{bound} (its timeout of {timeout}, kept within {Units.FormatDuration(_options.MinInitTimeout)}-{Units.FormatDuration(_options.InitTimeout)}; init_timeout sets another bound)";
    }

    /// <summary>
    /// Why a sandbox ended before its ready frame. An exit code (os._exit at import), an OOM
    /// kill at the function's memory limit or a crash signal (a native extension) are the function's
    /// doing: phase "exit", with the end of its stderr. A SIGKILL it did not earn, or a sandbox that never
    /// ran, is Thaw's side: phase "sandbox".
    /// </summary>
    private static async Task<FunctionStartException> StoppedBeforeReadyAsync(FunctionManifest function, Sandbox sandbox, SandboxExit exit)
    {
        bool functions = exit.Error is null && (exit.ExitCode is not null || exit.OomKilled || exit.Signal is not (null or 9));
        if (!functions)
            return new FunctionStartException("sandbox", $"function '{function.Name}': its sandbox stopped before the handler loaded ({exit})");
        // Its stderr is read as it comes; what is still in the socket arrives within moments of the exit.
        try { await sandbox.Stderr.Completion.WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false); }
        catch (TimeoutException) { }
        string stderr = sandbox.Stderr.ToString();
        const int Tail = 4096;
        string tail = stderr.Length > Tail ? "…" + stderr[^Tail..] : stderr;
        string how = exit.OomKilled ? $"was killed by the OOM killer at its memory limit of {function.MemoryBytes >> 20} MiB"
            : exit.ExitCode is int code ? $"exited with code {code}" : $"was killed by signal {exit.Signal}";
        return new FunctionStartException("exit", $"function '{function.Name}': its process {how} while the handler module loaded (os._exit, or a crash in native code)", tail);
    }

    /// <summary>The sandbox's first frame: ready (with what it loaded), or why its handler did not load.</summary>
    private (PythonSandbox Python, IReadOnlyList<string> Modules) Ready(FunctionManifest function, Sandbox sandbox, FrameReader frames, JsonElement root,
        FirstCall? first, Zygote forkedFrom)
    {
        if (root.GetProperty("op").GetString() != "ready")
        {
            var error = root.GetProperty("error");
            throw new FunctionStartException(root.GetProperty("phase").GetString() ?? "init",
                $"function '{function.Name}': {error.GetProperty("message").GetString()}", error.GetProperty("traceback").GetString() ?? "");
        }
        IReadOnlyList<string> modules = root.TryGetProperty("modules", out var list) ? [.. list.EnumerateArray().Select(m => m.GetString()!)] : [];
        var python = new PythonSandbox(sandbox, frames, root.GetProperty("init_ms").GetDouble(), _options.StopGrace, _options.KillTimeout, first) { ForkedFrom = forkedFrom };
        return (python, modules);
    }

    private JsonObject RuntimeConfig(FunctionManifest function, IReadOnlyList<string> packagePaths, int version) => new()
    {
        ["handler"] = function.Handler,
        // The function's installed packages first, then the base image's.
        ["paths"] = new JsonArray([.. packagePaths.Concat(_options.Paths).Select(p => (JsonNode)p!)]),
        ["function"] = new JsonObject
        {
            ["name"] = function.Name,
            ["version"] = version.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["memory_mb"] = function.MemoryBytes >> 20,
        },
    };

    private Dictionary<string, string> Environment(FunctionManifest function)
    {
        var env = new Dictionary<string, string>(_options.BaseEnvironment);
        foreach (var (key, value) in function.Environment)
            env[key] = value;
        return env;
    }

    public async ValueTask DisposeAsync()
    {
        List<MorulaPool> pools;
        lock (_morula)
        {
            pools = [.. _morula.Values];
            _morula.Clear();
        }
        foreach (var pool in pools)
            pool.Zygote.Dispose();
        if (ImportCache is not null)
            await ImportCache.DisposeAsync().ConfigureAwait(false);
    }
}
