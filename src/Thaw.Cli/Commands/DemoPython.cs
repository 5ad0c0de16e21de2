using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Thaw.Runtimes.Functions;
using Thaw.Runtimes.Python;
using Thaw.Sandboxes;

namespace Thaw.Cli.Commands;

/// <summary>
/// The demo's Python part: the example functions (examples/, one per handler style), each started
/// cold from the bare root zygote, then cold from the import cache's zygote for its packages, then
/// called warm; the reply and the three latencies per function.
/// </summary>
internal static class DemoPython
{
    private static readonly (string Dir, string Style, string Event)[] Examples =
    [
        ("hello", "OpenLambda f(event)", """{"name":"demo"}"""),
        ("numpy-stats", "SeBS handler(event)", """{"values":[3,1,4,1,5,9,2,6]}"""),
        ("image-resize", "AWS handler(event, context)", """{"width":1024,"height":768}"""),
    ];

    public static async Task Show(IAnsiConsole console, SandboxSpawner spawner, ILogger logger)
    {
        string examples = Path.Combine(AppContext.BaseDirectory, "examples");
        await using var runtime = new PythonRuntime(spawner, new PythonRuntimeOptions(), logger);
        var table = new Table().Title("Python functions: request → first reply (ms), then a warm call on the same sandbox")
            .AddColumns("function", "handler style", "reply", "cold, root zygote", "cold, its zygote", "warm call");
        foreach (var (name, style, json) in Examples)
        {
            string dir = Path.Combine(examples, name);
            var manifest = FunctionManifest.Load(dir);
            byte[] @event = Encoding.UTF8.GetBytes(json);
            // First start: nothing learned yet, so it forks from the bare root zygote and imports its packages itself.
            long first = Stopwatch.GetTimestamp();
            await using (var cold = await runtime.StartAsync(manifest, dir))
                await Call(cold, @event);
            double rootMs = Stopwatch.GetElapsedTime(first).TotalMilliseconds;
            // What learning builds after the function's second cold start, built now.
            await console.Status().StartAsync($"{name}: building the import cache's zygote for its packages...", _ => runtime.ImportCache!.PrepareAsync(manifest.Name));
            await Task.Delay(300); // the zygote parks a child once idle
            long start = Stopwatch.GetTimestamp();
            await using var sandbox = await runtime.StartAsync(manifest, dir);
            var reply = await Call(sandbox, @event);
            double cachedMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            long warmStart = Stopwatch.GetTimestamp();
            await Call(sandbox, @event);
            double warmMs = Stopwatch.GetElapsedTime(warmStart).TotalMilliseconds;
            table.AddRow(name, style, Markup.Escape(reply.Length > 48 ? reply[..47] + "…" : reply), F(rootMs), F(cachedMs), F(warmMs));
        }
        console.Write(table);
        var nodes = runtime.ImportCache!.Nodes;
        console.MarkupLine("cold = a new sandbox: forked, entered, handler imported, first call answered; image-resize's own work is ~25 ms of it.");
        console.MarkupLine($"import cache: {nodes.Count} zygotes ({string.Join(", ", nodes.Select(n => $"[[{string.Join(", ", n.Packages)}]] {n.MemoryBytes >> 20} MiB"))}); " +
            "each keeps a child forked ahead that has already taken its page faults.");
    }

    private static async Task<string> Call(PythonSandbox sandbox, byte[] @event)
    {
        var call = await sandbox.InvokeAsync(@event, TimeSpan.FromSeconds(30));
        return call.Succeeded ? call.Result!.Value.GetRawText() : $"{call.Error!.Type}: {call.Error.Message}";
    }

    private static string F(double ms) => ms.ToString(ms < 10 ? "0.0" : "0", CultureInfo.InvariantCulture);
}
