using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Thaw.Cli.Client;
using Thaw.Service;

namespace Thaw.Cli.Bench.Http;

/// <summary>
/// `thaw bench http`: thawd end to end over loopback HTTP, beside the floor in the same run. Warm:
/// wrk POSTing to a noop function at each client count (overhead = thawd's p50 − the floor's).
/// Cold: hello and image-resize deployed with keep_alive = 0 so every call starts a sandbox, called
/// one at a time after the node settles (production cold starts arrive after idle); image-resize's
/// platform latency is the end-to-end time minus the handler's own (reported in Server-Timing).
/// </summary>
internal static class HttpBench
{
    public sealed record Options(IReadOnlyList<int> Clients, TimeSpan Duration, int ColdSamples, string StateDir);

    public static async Task<(HttpBenchReport Report, IReadOnlyList<ColdBreakdown> Cold)> RunAsync(Options options, IAnsiConsole console, CancellationToken token)
    {
        PeerCommands.Require("wrk", "wrk", message => console.MarkupLine($"[grey]{Markup.Escape(message)}[/]"));
        var results = new List<HttpBenchResult>();
        results.AddRange((await FloorBench.RunAsync(options.Clients, options.Duration, console, token)).Results);

        using var loggers = CliLogging.Create(LogLevel.Warning);
        var thawdOptions = new ThawdOptions { Listen = "127.0.0.1:0" };
        thawdOptions.Resources.Name = "thawbh";
        thawdOptions.Resources.StateDir = Path.Combine(options.StateDir, "bench-http");
        int pool = Math.Max(16, options.Clients.Max() + 4);
        thawdOptions.Resources.Netns.Size = thawdOptions.Resources.Cgroups.Size = thawdOptions.Resources.Roots.Size = pool;
        var thawd = await console.Status().StartAsync("starting thawd (pools, zygote)...", _ => Thawd.StartAsync(thawdOptions, loggers));
        string work = Directory.CreateTempSubdirectory("thaw-bench-http-").FullName;
        try
        {
            using var client = new ThawClient(thawd.Url.ToString(), TimeSpan.FromSeconds(120));
            string examples = Path.Combine(AppContext.BaseDirectory, "examples");
            await console.Status().StartAsync("deploying noop, hello, image-resize (keep_alive = 0 for the cold cases) and cat (an exec function)...", async _ =>
            {
                await DeployAsync(client, Function(work, "noop", $"name = \"noop\"\nconcurrency = {Math.Max(16, options.Clients.Max())}\n",
                    ("f.py", "def f(event):\n    return {}\n")));
                await DeployAsync(client, ColdCopy(Path.Combine(examples, "hello"), work));
                await DeployAsync(client, ColdCopy(Path.Combine(examples, "image-resize"), work));
                // An exec function: cat hands the event back; every call is a fresh sandbox anyway.
                await DeployAsync(client, Function(work, "cat", "name = \"cat\"\nruntime = \"exec\"\ncommand = [\"cat\"]\n"));
            });

            var noop = new Uri(thawd.Url, "v1/functions/noop/invoke");
            // Warm every sandbox the largest client count will use, and thawd's code past the JIT.
            await console.Status().StartAsync("warming up thawd (until .NET's background JIT is idle)...", _ =>
                JitWarmUp.UntilIdleAsync(() => Wrk.RunAsync(noop, FloorBench.Body, options.Clients.Max(), TimeSpan.FromSeconds(1), token), minRounds: 2));
            foreach (int n in options.Clients)
            {
                var run = await console.Status().StartAsync($"warm-noop: {n} clients for {options.Duration.TotalSeconds:0} s",
                    _ => Wrk.RunAsync(noop, FloorBench.Body, n, options.Duration, token));
                results.Add(new HttpBenchResult("warm-noop", n, run.P50Ms, run.P99Ms, run.Rps));
            }

            var cold = new List<ColdBreakdown>();
            foreach (var (name, body, caseName) in new[]
            {
                ("hello", """{"name":"bench"}""", "cold-hello"),
                ("image-resize", """{"width":1024,"height":768}""", "cold-image-resize-platform"),
                ("cat", """{"name":"bench"}""", "cold-exec"),
            })
            {
                var samples = await console.Status().StartAsync($"{caseName}: {options.ColdSamples} cold calls, one at a time after 300 ms idle",
                    _ => ColdAsync(client, name, body, options.ColdSamples, token));
                var e2e = samples.Select(s => s.TotalMs).ToArray();
                var measured = caseName.EndsWith("-platform", StringComparison.Ordinal) ? samples.Select(s => s.TotalMs - s.Phases.GetValueOrDefault("handler")).ToArray() : e2e;
                results.Add(new HttpBenchResult(caseName, 1, Percentile(measured, 50), Percentile(measured, 99), 0));
                cold.Add(new ColdBreakdown(caseName, Percentile(e2e, 50), samples.SelectMany(s => s.Phases.Keys).Distinct()
                    .ToDictionary(k => k, k => Percentile([.. samples.Select(s => s.Phases.GetValueOrDefault(k, double.NaN)).Where(v => !double.IsNaN(v))], 50))));
            }
            return (new HttpBenchReport(results), cold);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
            await thawd.DisposeAsync();
            // Its registry and code: a bench leaves no functions behind (thawd removed every mount under it).
            if (Thaw.Linux.Mounts.MountTable.Read().MountPointsUnder(thawdOptions.Resources.StateDir).Count == 0)
                Directory.Delete(thawdOptions.Resources.StateDir, recursive: true);
        }
    }

    /// <summary>One cold call: the client's end-to-end time and thawd's phases (Server-Timing).</summary>
    private sealed record ColdSample(double TotalMs, IReadOnlyDictionary<string, double> Phases);

    /// <summary>Median phases of a cold case (ms), for the breakdown under the table.</summary>
    public sealed record ColdBreakdown(string Case, double EndToEndMs, IReadOnlyDictionary<string, double> Phases);

    private static async Task<List<ColdSample>> ColdAsync(ThawClient client, string name, string body, int count, CancellationToken token)
    {
        var samples = new List<ColdSample>();
        var content = Encoding.UTF8.GetBytes(body);
        for (int i = -2; i < count; i++)
        {
            // Settle: the previous sandbox is torn down and the zygote has parked its next child.
            await Task.Delay(300, token);
            long start = Stopwatch.GetTimestamp();
            var call = await client.InvokeAsync(name, content, token);
            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (!call.Succeeded)
                throw new InvalidOperationException($"{name}: {call.Status} {Encoding.UTF8.GetString(call.Body)}");
            if (call.Start != "cold")
                throw new InvalidOperationException($"{name}: a call meant to be cold was served warm (keep_alive = 0 not honoured)");
            if (i >= 0) // the first two pay for JIT on thawd's cold path
                samples.Add(new ColdSample(ms, call.Phases));
        }
        return samples;
    }

    private static string Function(string work, string name, string toml, params (string Name, string Text)[] files)
    {
        string dir = Path.Combine(work, name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "thaw.toml"), toml);
        foreach (var (file, text) in files)
            File.WriteAllText(Path.Combine(dir, file), text);
        return dir;
    }

    /// <summary>An example function with keep_alive = 0: no warm sandbox is kept, every call is cold.</summary>
    private static string ColdCopy(string example, string work)
    {
        string dir = Path.Combine(work, Path.GetFileName(example));
        Directory.CreateDirectory(dir);
        foreach (var file in Directory.GetFiles(example))
            File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        // First, not appended: after a [table] header a key would land in that table.
        string manifest = Path.Combine(dir, "thaw.toml");
        File.WriteAllText(manifest, "keep_alive = \"0s\"\n" + File.ReadAllText(manifest));
        return dir;
    }

    private static async Task DeployAsync(ThawClient client, string dir)
    {
        var packed = FunctionPacker.Pack(dir);
        await client.DeployAsync(packed.Name, packed.Archive);
    }

    private static double Percentile(double[] values, double p)
    {
        if (values.Length == 0)
            return double.NaN;
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p / 100 * sorted.Length) - 1)];
    }
}
