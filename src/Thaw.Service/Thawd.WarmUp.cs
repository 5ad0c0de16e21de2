using Thaw.Runtimes.Functions;
using Thaw.Service.Functions;

namespace Thaw.Service;

public sealed partial class Thawd
{
    private const string WarmUpFunction = "thaw-warm-up";
    private const string WarmUpExecFunction = "thaw-warm-up-exec";

    /// <summary>
    /// Calls functions of thawd's own through its HTTP API before it says ready: the first request
    /// through Kestrel, routing, the handler cache's cold and warm paths, the Python runtime's start
    /// and invoke, an exec function's run, and the JSON writers pays their JIT (50–100 ms here), which should not land on the
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
            // And the exec path (slots, thawd's own clone, stdin, the result's parse).
            string execDir = Path.Combine(dir, "exec");
            Directory.CreateDirectory(execDir);
            File.WriteAllText(Path.Combine(execDir, FunctionManifest.FileName), $"name = \"{WarmUpExecFunction}\"\nruntime = \"exec\"\ncommand = [\"cat\"]\nmemory = \"32M\"\n");
            Cache.Deploy(new Deployment(WarmUpExecFunction, 1, execDir, FunctionManifest.Load(execDir), DateTimeOffset.UtcNow));
            using var http = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(30) };
            for (int i = 0; i < 3; i++)
            {
                using var health = await http.GetAsync("healthz").ConfigureAwait(false);
                using var invoke = await http.PostAsync($"v1/functions/{WarmUpFunction}/invoke", new StringContent("{}")).ConfigureAwait(false);
                using var exec = await http.PostAsync($"v1/functions/{WarmUpExecFunction}/invoke", new StringContent("{}")).ConfigureAwait(false);
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
            await Cache.RemoveAsync(WarmUpExecFunction).ConfigureAwait(false);
            Python.ImportCache?.Forget(WarmUpFunction);
            RemoveLog(WarmUpFunction);
            RemoveLog(WarmUpExecFunction);
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
    }
}
