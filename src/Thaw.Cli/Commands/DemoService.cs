using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Spectre.Console;
using Thaw.Cli.Client;

namespace Thaw.Cli.Commands;

/// <summary>
/// The demo's main part: thawd started in the background as `thaw serve` would be, the example
/// functions (examples/: hello in OpenLambda style, numpy-stats in SeBS style, image-resize in AWS
/// style, as in SOCK's case study, and word-count, a shell script) deployed through the API, each
/// called cold then again (warm; word-count's exec calls are always a fresh sandbox), the
/// latencies with the cold start's phases, then thawd stopped with SIGTERM like any service.
/// </summary>
internal static class DemoService
{
    private static readonly (string Dir, string Style, string Event)[] Examples =
    [
        ("hello", "OpenLambda f(event)", """{"name":"demo"}"""),
        ("numpy-stats", "SeBS handler(event)", """{"values":[3,1,4,1,5,9,2,6]}"""),
        ("image-resize", "AWS handler(event, context)", """{"width":1024,"height":768}"""),
        ("word-count", "exec: any program (stdin → stdout)", """{"text":"the quick brown fox"}"""),
    ];

    /// <summary>Runs the service part; returns thawd's pid (for the leak check) once it has exited.</summary>
    public static async Task<int> ShowAsync(IAnsiConsole console, string stateDir, string name)
    {
        var thawd = await StartThawdAsync(console, stateDir, name);
        try
        {
            using var client = new ThawClient(thawd.Url, TimeSpan.FromSeconds(120));
            await WarmClientAsync(client);
            await DeployAsync(console, client);
            await InvokeAsync(console, client);
            await ShowStatsAsync(console, client);
        }
        finally
        {
            await console.Status().StartAsync("stopping thawd (SIGTERM): calls finish, sandboxes and zygotes stop, pools are emptied...", _ => thawd.StopAsync());
        }
        console.MarkupLine($"[green]thawd exited[/] with code {thawd.Process.ExitCode}.");
        return thawd.Process.Id;
    }

    private static async Task<ServeProcess> StartThawdAsync(IAnsiConsole console, string stateDir, string name)
    {
        var thawd = await console.Status().StartAsync("starting thawd: thaw serve (pools crafted ahead, root zygote, registry)...",
            _ => ServeProcess.StartAsync(stateDir, name, "--pool-size", "8", "--log-level", "warning"));
        console.MarkupLine($"[green]thawd {thawd.Process.Id} ready[/] on {thawd.Url}: HTTP API, pools full, root zygote up.");
        return thawd;
    }

    private static async Task DeployAsync(IAnsiConsole console, ThawClient client)
    {
        string examples = Path.Combine(AppContext.BaseDirectory, "examples");
        var table = new Table().Title("deployed through PUT /v1/functions/NAME (Python: validated by a real start, zygote built for its packages)")
            .AddColumns("function", "handler style", "handler", "memory", "forks from zygote", "deploy ms");
        foreach (var (dir, style, _) in Examples)
        {
            var packed = FunctionPacker.Pack(Path.Combine(examples, dir));
            long t = Stopwatch.GetTimestamp();
            var reply = await console.Status().StartAsync($"deploying {packed.Name}...", _ => client.DeployAsync(packed.Name, packed.Archive));
            double ms = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
            string runs = reply["handler"] is { } handler ? Text(handler) : string.Join(' ', ReplyText.Items(reply["command"]).Select(Text));
            table.AddRow(packed.Name, Markup.Escape(style), Markup.Escape(runs), $"{reply["memory_mb"]} MiB", Text(reply["zygote"]), F(ms));
        }
        console.Write(table);
    }

    private const string ExecExample = "word-count";

    private static async Task InvokeAsync(IAnsiConsole console, ThawClient client)
    {
        // The zygotes the deploys built are still pre-faulting their parked children (~100 ms of CPU
        // each on 2 cores): calls arrive after a moment of idle in production too.
        await Task.Delay(1000);
        var table = new Table().Title("POST /v1/functions/NAME/invoke: first call cold (a new sandbox), then warm (the same sandbox); ms")
            .AddColumns("function", "reply", "cold", "claim", "fork", "init", "call", "again (median of 5)");
        foreach (var (name, _, json) in Examples)
        {
            byte[] @event = Encoding.UTF8.GetBytes(json);
            await Task.Delay(300); // let its zygote park a child, as it has when a request arrives after idle
            long t = Stopwatch.GetTimestamp();
            var cold = await client.InvokeAsync(name, @event);
            double coldMs = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
            var warm = new List<double>();
            for (int i = 0; i < 5; i++)
            {
                long w = Stopwatch.GetTimestamp();
                var call = await client.InvokeAsync(name, @event);
                warm.Add(Stopwatch.GetElapsedTime(w).TotalMilliseconds);
                // An exec function keeps nothing warm: every call is a fresh sandbox.
                if (call.Start != (name == ExecExample ? "cold" : "warm"))
                    throw new InvalidOperationException($"{name}: a repeat call was served {call.Start}");
            }
            string reply = cold.Succeeded ? Encoding.UTF8.GetString(cold.Body) : $"error {cold.Status}";
            table.AddRow(name, Markup.Escape(reply.Length > 44 ? reply[..43] + "…" : reply), F(coldMs), P(cold, "claim"), P(cold, "fork"), P(cold, "init"), P(cold, "call"),
                F(warm.Order().ElementAt(warm.Count / 2)));
        }
        console.Write(table);
        console.MarkupLine("claim: netns, cgroup, root from their pools · fork: zygote fork + sandbox entry + runtime ready · init: handler import · call: event → result (for image-resize, mostly its own resizing; for word-count, the program's run: a fresh sandbox every call).");
    }

    /// <summary>
    /// The demo times calls from this process: its own HTTP client's first requests would add their
    /// JIT to the first cold call, which is not thawd's to pay.
    /// </summary>
    private static async Task WarmClientAsync(ThawClient client)
    {
        for (int i = 0; i < 3; i++)
        {
            await client.HealthAsync();
            try { await client.InvokeAsync("thaw-demo-no-such-function", "{}"u8.ToArray()); }
            catch (ThawApiException) { }
        }
    }

    private static async Task ShowStatsAsync(IAnsiConsole console, ThawClient client)
    {
        var stats = await client.StatsAsync();
        var zygotes = stats["zygotes"]!;
        var cache = stats["handler_cache"]!;
        var nodes = zygotes["nodes"]!.AsArray().Select(n => $"[[{string.Join(", ", n!["packages"]!.AsArray().Select(p => p!.ToString()))}]] {(long)n["memory_bytes"]! >> 20} MiB");
        console.MarkupLine($"GET /v1/stats: {zygotes["count"]} zygotes (root + {string.Join(", ", nodes)}); handler cache {cache["warm_calls"]} warm / {cache["cold_calls"]} cold calls, " +
            $"hit rate {(double)cache["hit_rate"]!:P0}; pools: {string.Join(", ", stats["pools"]!.AsArray().Select(p => $"{p!["name"]} {p["available"]}/{p["target"]}"))}.");
    }

    private static string P(Invocation call, string phase) => call.Phases.TryGetValue(phase, out double v) ? F(v) : "-";

    private static string Text(JsonNode? node) => Markup.Escape(node?.ToString() ?? "");

    private static string F(double ms) => ms.ToString(ms < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture);
}
