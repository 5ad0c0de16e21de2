using System.Text.Json.Nodes;
using Thaw.Resources.Cgroups;
using Thaw.Runtimes.Functions;
using Microsoft.Extensions.Logging;
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

    public PythonRuntime(SandboxSpawner spawner, PythonRuntimeOptions options, ILogger logger)
    {
        if (options.Paths.Any(p => !p.StartsWith('/')))
            throw new ArgumentException("PythonRuntimeOptions.Paths must be absolute paths inside the sandbox");
        _spawner = spawner;
        _options = options;
        ImportCache = options.ImportCache is { } cache ? new ImportCache(spawner, cache, options.Paths, logger) : null;
    }

    /// <summary>The zygote tree sandboxes fork from; null when disabled.</summary>
    public ImportCache? ImportCache { get; }

    /// <summary>
    /// Starts one sandbox of <paramref name="function"/> with its code at <paramref name="codeDir"/>.
    /// A handler that cannot load (missing, syntax error, import error, init raised) throws a
    /// <see cref="FunctionStartException"/> with Python's traceback; the sandbox is gone by then.
    /// </summary>
    public async Task<PythonSandbox> StartAsync(FunctionManifest function, string codeDir, CancellationToken token = default)
    {
        if (function.Runtime != "python")
            throw new ArgumentException($"function '{function.Name}' uses the {function.Runtime} runtime, not python");
        var spec = new SandboxSpec
        {
            Runtime = RuntimeConfig(function),
            CodeDir = codeDir,
            Limits = new CgroupLimits(function.MemoryBytes, _options.CpuQuota, _options.PidsMax),
            Environment = Environment(function),
            Hostname = "thaw-" + function.Name,
        };
        // The deepest zygote whose packages the function uses; a dead one is dropped and its parent tried.
        var lease = ImportCache?.Acquire(function.Name);
        Sandbox sandbox;
        while (true)
        {
            try
            {
                sandbox = await _spawner.RunAsync(spec, from: lease?.Node is null ? null : lease.Zygote).ConfigureAwait(false);
                break;
            }
            catch (ZygoteException) when (lease?.Node is not null)
            {
                lease.Lost();
                lease = ImportCache!.Acquire(function.Name);
            }
            catch
            {
                lease?.Dispose();
                throw;
            }
        }
        if (lease is not null)
            _ = sandbox.Exited.ContinueWith(_ => lease.Dispose(), TaskScheduler.Default);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
            deadline.CancelAfter(_options.InitTimeout);
            using var ready = await InvocationFrames.ReadAsync(sandbox.Channel!, deadline.Token).ConfigureAwait(false);
            if (ready is null)
            {
                var exit = await sandbox.Exited.WaitAsync(_options.KillTimeout, CancellationToken.None).ConfigureAwait(false);
                throw new FunctionStartException("sandbox", $"function '{function.Name}': its sandbox stopped before the handler loaded ({exit})");
            }
            var root = ready.RootElement;
            if (root.GetProperty("op").GetString() != "ready")
            {
                var error = root.GetProperty("error");
                throw new FunctionStartException(root.GetProperty("phase").GetString() ?? "init",
                    $"function '{function.Name}': {error.GetProperty("message").GetString()}", error.GetProperty("traceback").GetString() ?? "");
            }
            if (root.TryGetProperty("modules", out var modules))
                ImportCache?.Learn(function.Name, [.. modules.EnumerateArray().Select(m => m.GetString()!)]);
            return new PythonSandbox(sandbox, root.GetProperty("init_ms").GetDouble(), _options.StopGrace, _options.KillTimeout) { ForkedFrom = lease?.Zygote ?? _spawner.Zygote };
        }
        catch (Exception e)
        {
            await sandbox.DeleteAsync(_options.KillTimeout).ConfigureAwait(false);
            if (e is OperationCanceledException && !token.IsCancellationRequested)
                throw new FunctionStartException("init", $"function '{function.Name}': the handler module did not load within {_options.InitTimeout.TotalSeconds:0.#} s", inner: e);
            throw;
        }
    }

    private JsonObject RuntimeConfig(FunctionManifest function) => new()
    {
        ["handler"] = function.Handler,
        ["paths"] = new JsonArray([.. _options.Paths.Select(p => (JsonNode)p)]),
        ["function"] = new JsonObject
        {
            ["name"] = function.Name,
            ["version"] = "1",
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
        if (ImportCache is not null)
            await ImportCache.DisposeAsync().ConfigureAwait(false);
    }
}
