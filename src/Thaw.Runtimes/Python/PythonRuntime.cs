using System.Text.Json.Nodes;
using Thaw.Resources.Cgroups;
using Thaw.Runtimes.Functions;
using Thaw.Sandboxes;

namespace Thaw.Runtimes.Python;

/// <summary>
/// Starts Python functions' sandboxes: each is forked from the zygote (which already holds the
/// interpreter and the runtime), enters its pooled resources, imports the function's handler
/// module once and reports ready over its invoke socket; only then is it handed out.
/// </summary>
public sealed class PythonRuntime(SandboxSpawner spawner, PythonRuntimeOptions options)
{
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
            Limits = new CgroupLimits(function.MemoryBytes, options.CpuQuota, options.PidsMax),
            Environment = Environment(function),
            Hostname = "thaw-" + function.Name,
        };
        var sandbox = await spawner.RunAsync(spec).ConfigureAwait(false);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
            deadline.CancelAfter(options.InitTimeout);
            using var ready = await InvocationFrames.ReadAsync(sandbox.Channel!, deadline.Token).ConfigureAwait(false);
            if (ready is null)
            {
                var exit = await sandbox.Exited.WaitAsync(options.KillTimeout, CancellationToken.None).ConfigureAwait(false);
                throw new FunctionStartException("sandbox", $"function '{function.Name}': its sandbox stopped before the handler loaded ({exit})");
            }
            var root = ready.RootElement;
            if (root.GetProperty("op").GetString() != "ready")
            {
                var error = root.GetProperty("error");
                throw new FunctionStartException(root.GetProperty("phase").GetString() ?? "init",
                    $"function '{function.Name}': {error.GetProperty("message").GetString()}", error.GetProperty("traceback").GetString() ?? "");
            }
            return new PythonSandbox(sandbox, root.GetProperty("init_ms").GetDouble(), options.StopGrace, options.KillTimeout);
        }
        catch (Exception e)
        {
            await sandbox.DeleteAsync(options.KillTimeout).ConfigureAwait(false);
            if (e is OperationCanceledException && !token.IsCancellationRequested)
                throw new FunctionStartException("init", $"function '{function.Name}': the handler module did not load within {options.InitTimeout.TotalSeconds:0.#} s", inner: e);
            throw;
        }
    }

    private static JsonObject RuntimeConfig(FunctionManifest function) => new()
    {
        ["handler"] = function.Handler,
        ["paths"] = new JsonArray(),
        ["function"] = new JsonObject
        {
            ["name"] = function.Name,
            ["version"] = "1",
            ["memory_mb"] = function.MemoryBytes >> 20,
        },
    };

    private Dictionary<string, string> Environment(FunctionManifest function)
    {
        var env = new Dictionary<string, string>(options.BaseEnvironment);
        foreach (var (key, value) in function.Environment)
            env[key] = value;
        return env;
    }
}
