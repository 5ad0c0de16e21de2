using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Thaw.Cli.Bench.Bursts;
using Thaw.Cli.Client;
using Thaw.Linux.Mounts;
using Thaw.Resources.Pooling;

namespace Thaw.Cli.Bench.Soak;

internal sealed record SoakOptions(TimeSpan Duration, int Clients, TimeSpan FaultEvery, string StateDir)
{
    public string InstanceName { get; init; } = "thawsk";

    /// <summary>How often thawd's memory and descriptors are sampled (and a window of latencies closed).</summary>
    public TimeSpan SampleEvery { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>One sampling window: the calls that ended in it and thawd's process as it closed.</summary>
internal sealed record SoakWindow(double AtSeconds, int Calls, int Cold, double P50Ms, double P99Ms, int Failed, long RssBytes, int Fds, int Threads);

internal sealed record SoakReport(
    double Seconds, int Calls, int Lifecycles, IReadOnlyDictionary<string, int> Statuses, IReadOnlyDictionary<string, int> Faults,
    IReadOnlyList<string> Unexpected, double FirstMinuteP99Ms, double LastMinuteP99Ms, IReadOnlyList<SoakWindow> Windows,
    IReadOnlyList<string> LeftBehind, SoakOptions Settings);

/// <summary>
/// `thaw bench soak`: thawd as its own process under closed-loop load on Python functions (cold
/// every call, warm and frozen, PIL+numpy) and an exec function, while sandboxes, child zygotes and
/// now and then the root zygote are SIGKILLed; thawd's RSS and descriptors sampled over time; at the
/// end thawd is stopped with SIGTERM and every mount, cgroup, link and process of the instance left
/// behind is counted (the target is none).
/// </summary>
internal sealed class SoakBench(SoakOptions options, IAnsiConsole console)
{
    private const string ExecFunction = "word-count";
    private static readonly byte[] TextEvent = """{"text":"the quick brown fox jumps over the lazy dog"}"""u8.ToArray();

    // Replies a fault may cause and the API documents: a call whose sandbox or zygote was killed under it
    // (and a function's own handler_error, below).
    private static readonly HashSet<int> Documented = [200, 429, 502, 503, 504];

    /// <summary>Runs for the duration, or until <paramref name="interrupt"/> (Ctrl-C): the report then covers the part that ran.</summary>
    public async Task<SoakReport> RunAsync(CancellationToken interrupt = default)
    {
        string dir = Path.Combine(options.StateDir, "bench-soak");
        string functionsDir = Path.Combine(dir, "functions");
        var thawd = await console.Status().StartAsync("starting thawd (thaw serve)...",
            _ => ServeProcess.StartAsync(Path.Combine(dir, "thawd"), options.InstanceName, "--pool-size", "16", "--log-level", "error"));
        // A copy an interrupted run left, deleted once thawd holds the instance (a second soak in the
        // same state dir stops at its lock instead).
        if (Directory.Exists(functionsDir))
            Directory.Delete(functionsDir, recursive: true);
        var functions = new BurstFunctions(functionsDir, 16, options.Clients);
        var calls = new ConcurrentQueue<(double At, double Ms, CallOutcome Outcome, string Function)>();
        var faults = new ConcurrentDictionary<SoakFault, int>();
        var windows = new List<SoakWindow>();
        long started;
        try
        {
            using var client = new ThawClient(thawd.Url, TimeSpan.FromSeconds(120));
            await console.Status().StartAsync("deploying hello (warm and cold), image-resize and word-count...", async _ =>
            {
                foreach (var (path, name) in new[] { (functions.Hello, "hello"), (functions.ColdHelloDir, BurstFunctions.ColdHello), (functions.Image, BurstFunctions.ImageResize),
                    (Path.Combine(AppContext.BaseDirectory, "examples", ExecFunction), ExecFunction) })
                {
                    var packed = FunctionPacker.Pack(path, name);
                    await client.DeployAsync(packed.Name, packed.Archive);
                }
            });
            var targets = new (string Name, byte[] Event)[]
            {
                ("hello", BurstFunctions.HelloEvent), (BurstFunctions.ColdHello, BurstFunctions.HelloEvent),
                (BurstFunctions.ImageResize, BurstFunctions.ImageEvent), (ExecFunction, TextEvent),
            };
            using var invoker = new InvokeClient(new Uri(thawd.Url));
            started = Stopwatch.GetTimestamp();
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(interrupt);
            stop.CancelAfter(options.Duration);
            var load = Enumerable.Range(0, options.Clients).Select(c => new Thread(() =>
            {
                var random = new Random(c);
                while (!stop.IsCancellationRequested)
                {
                    var (name, body) = targets[random.Next(targets.Length)];
                    long t = Stopwatch.GetTimestamp();
                    var outcome = invoker.Invoke(name, body);
                    calls.Enqueue((Stopwatch.GetElapsedTime(started).TotalSeconds, Stopwatch.GetElapsedTime(t).TotalMilliseconds, outcome, name));
                }
            }) { IsBackground = true }).ToList();
            load.ForEach(t => t.Start());
            var injector = new Thread(() => Inject(client, faults, stop.Token)) { IsBackground = true };
            injector.Start();

            await console.Progress().StartAsync(async progress =>
            {
                var task = progress.AddTask($"soak: {options.Clients} clients, a fault every {options.FaultEvery.TotalSeconds:0.#} s", maxValue: options.Duration.TotalSeconds);
                var taken = new List<(double At, double Ms, CallOutcome Outcome, string Function)>();
                while (!stop.IsCancellationRequested)
                {
                    try { await Task.Delay(options.SampleEvery, stop.Token); }
                    catch (OperationCanceledException) { }
                    while (calls.TryDequeue(out var call))
                        taken.Add(call);
                    windows.Add(Window(Stopwatch.GetElapsedTime(started).TotalSeconds, taken, thawd.Process.Id));
                    AllCalls.AddRange(taken);
                    taken.Clear();
                    task.Value = Math.Min(options.Duration.TotalSeconds, Stopwatch.GetElapsedTime(started).TotalSeconds);
                }
            });
            load.ForEach(t => t.Join());
            injector.Join();
            while (calls.TryDequeue(out var call))
                AllCalls.Add(call);
        }
        finally
        {
            await console.Status().StartAsync("stopping thawd (SIGTERM)...", _ => thawd.StopAsync());
        }
        var left = Leftovers(Path.Combine(dir, "thawd"), options.InstanceName);
        if (left.Count == 0 && MountTable.Read().MountPointsUnder(dir).Count == 0)
            Directory.Delete(dir, recursive: true);
        return Report(faults, windows, left);
    }

    private List<(double At, double Ms, CallOutcome Outcome, string Function)> AllCalls { get; } = [];

    private void Inject(ThawClient client, ConcurrentDictionary<SoakFault, int> faults, CancellationToken stop)
    {
        var random = new Random(42);
        var injector = new SoakFaults(options.InstanceName, random);
        while (!stop.WaitHandle.WaitOne(options.FaultEvery))
        {
            // The root zygote rarely (its replacement restarts the import cache), the rest evenly.
            var fault = random.Next(20) == 0 ? SoakFault.RootZygote : random.Next(4) == 0 ? SoakFault.ChildZygote : SoakFault.Sandbox;
            try
            {
                int root = (int)client.StatsAsync(stop).GetAwaiter().GetResult()["zygotes"]!["root_pid"]!;
                if (injector.Inject(fault, root))
                    faults.AddOrUpdate(fault, 1, (_, n) => n + 1);
            }
            catch (Exception e) when (e is OperationCanceledException or HttpRequestException or ThawApiException or TimeoutException)
            {
                // thawd busy or its zygote restarting: counted where it shows, in the calls' replies and latencies.
                faults.AddOrUpdate(SoakFault.Unreachable, 1, (_, n) => n + 1);
            }
        }
    }

    private static SoakWindow Window(double at, List<(double At, double Ms, CallOutcome Outcome, string Function)> calls, int pid)
    {
        var ok = calls.Where(c => c.Outcome.Succeeded).Select(c => c.Ms).Order().ToList();
        var (rss, threads) = ProcessStatus(pid);
        int fds = Directory.Exists($"/proc/{pid}/fd") ? Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length : 0;
        return new SoakWindow(Math.Round(at, 1), calls.Count, calls.Count(c => c.Outcome.Cold), Math.Round(LatencyReservoir.Percentile(ok, 0.5), 2),
            Math.Round(LatencyReservoir.Percentile(ok, 0.99), 2), calls.Count(c => !c.Outcome.Succeeded), rss, fds, threads);
    }

    private static (long RssBytes, int Threads) ProcessStatus(int pid)
    {
        long rss = 0;
        int threads = 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    rss = long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
                else if (line.StartsWith("Threads:", StringComparison.Ordinal))
                    threads = int.Parse(line[8..].Trim(), CultureInfo.InvariantCulture);
            }
        }
        catch (IOException) { }
        return (rss, threads);
    }

    private SoakReport Report(ConcurrentDictionary<SoakFault, int> faults, List<SoakWindow> windows, List<string> left)
    {
        double seconds = options.Duration.TotalSeconds;
        var statuses = AllCalls.GroupBy(c => c.Outcome.Status == CallOutcome.NoReply ? "no reply" : c.Outcome.Status.ToString(CultureInfo.InvariantCulture))
            .OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count());
        // A 500 `internal` is Thaw failing, and a call with no reply was lost: neither may happen while
        // thawd runs. A 500 `handler_error` is the function's own reply (an exec program killed by a
        // signal says so: the soak's SIGKILLs reach programs too).
        var unexpected = AllCalls.Where(c => !Documented.Contains(c.Outcome.Status) && !IsHandlerError(c.Outcome)).GroupBy(c => $"{c.Function}: {c.Outcome.Error ?? c.Outcome.Status.ToString(CultureInfo.InvariantCulture)}")
            .Select(g => $"{g.Count()} × {g.Key}").Take(20).ToList();
        double P99(double from, double to) => LatencyReservoir.Percentile([.. AllCalls.Where(c => c.At >= from && c.At < to && c.Outcome.Succeeded).Select(c => c.Ms).Order()], 0.99);
        double minute = Math.Min(60, seconds / 2);
        return new SoakReport(seconds, AllCalls.Count, AllCalls.Count(c => c.Outcome.Cold),
            statuses, faults.ToDictionary(f => f.Key.ToString(), f => f.Value), unexpected,
            Math.Round(P99(0, minute), 2), Math.Round(P99(seconds - minute, seconds + 60), 2), windows, left, options);
    }

    private static bool IsHandlerError(CallOutcome outcome) =>
        outcome.Status == 500 && outcome.Error?.Contains("\"code\":\"handler_error\"", StringComparison.Ordinal) == true;

    /// <summary>Every mount under the state dir, cgroup, link and process of the instance still there after thawd stopped.</summary>
    internal static List<string> Leftovers(string stateDir, string name)
    {
        var left = new List<string>();
        left.AddRange(MountTable.Read().MountPointsUnder(stateDir).Select(m => "mount " + m));
        left.AddRange(Thaw.Linux.Cgroups.CgroupHierarchy.Detect().MountPaths.Select(m => Path.Combine(m, name)).Where(Directory.Exists).Select(d => "cgroup " + d));
        left.AddRange(Directory.EnumerateDirectories("/sys/class/net").Select(Path.GetFileName).Where(n => n!.StartsWith(name, StringComparison.Ordinal)).Select(n => "link " + n));
        foreach (var proc in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                string cmdline = File.ReadAllText(Path.Combine(proc, "cmdline"));
                if (cmdline.Contains(stateDir + "/", StringComparison.Ordinal))
                    left.Add("process " + Path.GetFileName(proc));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return left;
    }
}
