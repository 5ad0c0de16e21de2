using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Thaw.Cli.Bench;

namespace Thaw.Cli.Commands;

internal static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench", "Benchmarks that compare Thaw with a real peer in the same run and print ratios.");
        command.Subcommands.Add(Pools());
        command.Subcommands.Add(Startup());
        command.Subcommands.Add(Python());
        command.Subcommands.Add(Http());
        command.Subcommands.Add(BurstCommand());
        command.Subcommands.Add(Density());
        command.Subcommands.Add(Soak());
        command.Subcommands.Add(Cgroup2());
        return command;
    }

    private static Command Cgroup2()
    {
        var samples = new Option<int>("--samples") { Description = "Samples per case and way (the OOM and memory.high cases take a tenth, at least 3).", DefaultValueFactory = _ => 30 };
        var command = new Command("cgroup2", "cgroup v2's own tools beside the portable way, in one run (pure cgroup2 hosts): cgroup.kill vs SIGKILL per pid, a freeze waited on cgroup.events vs polled, the cgroup.procs write on the start path (what clone3 CLONE_INTO_CGROUP would save), memory.oom.group on and off, memory.high below memory.max.")
        {
            samples,
        };
        command.SetAction(parse =>
        {
            new Cgroup2Bench(parse.GetValue(samples), AnsiConsole.Console).Run();
            return 0;
        });
        return command;
    }

    private static Command BurstCommand()
    {
        var concurrency = new Option<string>("--concurrency", "-c") { Description = "Burst sizes N: that many calls released at once, comma-separated.", DefaultValueFactory = _ => "1,10,20,50" };
        var cases = new Option<string>("--cases") { Description = "Which cases, comma-separated: image-resize (N cold calls to one PIL+numpy function, keep_alive = 0s), distinct-hello (first calls to N hello functions deployed just before), sustained-hello (closed-loop cold starts per second).", DefaultValueFactory = _ => string.Join(',', Bench.Bursts.BurstCases.All) };
        var bursts = new Option<int>("--bursts") { Description = "Bursts measured per case and N, each system (one warm-up burst more, not counted).", DefaultValueFactory = _ => 5 };
        var idle = new Option<string>("--idle") { Description = "Idle pause before every burst (production cold starts follow idle; 1.5s, 500ms).", DefaultValueFactory = _ => "1.5s" };
        var clients = new Option<int>("--clients") { Description = "Closed-loop clients of the sustained case.", DefaultValueFactory = _ => 16 };
        var duration = new Option<string>("--duration") { Description = "How long the sustained case runs, per system (20s, 1m).", DefaultValueFactory = _ => "20s" };
        var baseline = new Option<string>("--baseline") { Description = "runc (a fresh python3 per call in a runc container, the same handler and N; installed from Debian if missing) or none.", DefaultValueFactory = _ => "runc" };
        var json = new Option<FileInfo?>("--json") { Description = "Write {\"results\":[{\"case\",\"system\",\"concurrency\",\"p50_ms\",\"p99_ms\",\"wall_ms\",\"non_200\",\"flatness\",\"peer_ratio\",\"starts_per_second\",...}],\"targets\":[...]} to this file." };
        var plot = new Option<FileInfo?>("--plot") { Description = "Draw p50 per burst size, per case and system, to this .png or .svg file." };
        var stateDir = new Option<string>("--state-dir") { Description = "Where the bench's thawd, functions and runc peer keep their state.", DefaultValueFactory = _ => "/var/lib/thaw" };
        var command = new Command("burst", "Python cold starts under concurrency, end to end over loopback HTTP against a real thawd, beside a fresh python3 per call in runc at the same N: "
            + "N calls released at once after an idle pause, several bursts per N (p50, p99, wall, non-200s, flatness = p50 at N ÷ p50 at 1, peer ÷ thaw); "
            + "then sustained cold starts per second from clients in a closed loop. Prints the targets with met / not met.")
        {
            concurrency, cases, bursts, idle, clients, duration, baseline, json, plot, stateDir,
        };
        command.SetAction(async (parse, token) =>
        {
            string peer = parse.GetValue(baseline)!;
            if (peer is not ("runc" or "none"))
                throw new ArgumentException($"--baseline: '{peer}' is not runc or none");
            var options = new Bench.Bursts.BurstBenchOptions(ParseConcurrency(parse.GetValue(concurrency)!), Bench.Bursts.BurstCases.Parse(parse.GetValue(cases)!),
                parse.GetValue(bursts), Thaw.Runtimes.Units.ParseDuration(parse.GetValue(idle)!, allowZero: true), parse.GetValue(clients),
                Thaw.Runtimes.Units.ParseDuration(parse.GetValue(duration)!), peer == "runc", parse.GetValue(stateDir)!);
            if (options.Bursts < 1 || options.SustainedClients < 1)
                throw new ArgumentException("--bursts and --clients must be at least 1");
            var report = await new Bench.Bursts.BurstBench(options, AnsiConsole.Console).RunAsync(token);
            Bench.Bursts.BurstReportWriter.Print(report, AnsiConsole.Console);
            WriteFiles(parse.GetValue(json), f => Bench.Bursts.BurstReportWriter.WriteJson(report, f), parse.GetValue(plot), f => Bench.Bursts.BurstReportWriter.WritePlot(report, f));
            return 0;
        });
        return command;
    }

    private static Command Soak()
    {
        var duration = new Option<string>("--duration") { Description = "How long the load and the faults run (10m, 90s).", DefaultValueFactory = _ => "10m" };
        var clients = new Option<int>("--clients") { Description = "Clients calling in a closed loop, each a random function of the four.", DefaultValueFactory = _ => 8 };
        var faultEvery = new Option<string>("--fault-every") { Description = "How often a process is SIGKILLed: a sandbox (most often), a child zygote, now and then the root zygote.", DefaultValueFactory = _ => "1s" };
        var json = new Option<FileInfo?>("--json") { Description = "Write the report (windows over time, statuses, faults, p99 drift, what was left behind) as JSON to this file." };
        var stateDir = new Option<string>("--state-dir") { Description = "Where the soak's thawd keeps its state.", DefaultValueFactory = _ => "/var/lib/thaw" };
        var command = new Command("soak", "thawd as its own process under closed-loop load on hello (warm and frozen, and cold every call), image-resize (PIL+numpy, cold every call) and an exec function, "
            + "while sandboxes, child zygotes and the root zygote are SIGKILLed at random: sandbox lifecycles, replies by status (never a 500 or a lost reply), "
            + "p99 drift from the first minute to the last, thawd's RSS and descriptors over time, and, after SIGTERM, every object of the instance left behind (target: none).")
        {
            duration, clients, faultEvery, json, stateDir,
        };
        command.SetAction(async (parse, token) =>
        {
            var options = new Bench.Soak.SoakOptions(Thaw.Runtimes.Units.ParseDuration(parse.GetValue(duration)!), parse.GetValue(clients),
                Thaw.Runtimes.Units.ParseDuration(parse.GetValue(faultEvery)!), parse.GetValue(stateDir)!);
            if (options.Clients < 1)
                throw new ArgumentException("--clients must be at least 1");
            var report = await new Bench.Soak.SoakBench(options, AnsiConsole.Console).RunAsync(token);
            Bench.Soak.SoakReportWriter.Print(report, AnsiConsole.Console);
            WriteFiles(parse.GetValue(json), f => Bench.Soak.SoakReportWriter.WriteJson(report, f), null, _ => { });
            return report.LeftBehind.Count == 0 && report.Unexpected.Count == 0 ? 0 : 1;
        });
        return command;
    }

    private static Command Density()
    {
        var count = new Option<int>("--count", "-n") { Description = "Idle warm hello sandboxes to start and hold at once (a function holds at most 1,000: more use more copies of hello).", DefaultValueFactory = _ => 5000 };
        var parallel = new Option<int>("--parallel") { Description = "Sandbox starts in flight at once while filling.", DefaultValueFactory = _ => 4 };
        var memory = new Option<string>("--memory") { Description = "The hello functions' memory limit (thaw.toml memory).", DefaultValueFactory = _ => "64M" };
        var budget = new Option<string?>("--memory-budget") { Description = "thawd's memory budget (default: 80% of MemAvailable at the start)." };
        var overcommit = new Option<double>("--overcommit") { Description = "The budget's overcommit factor (measured accounting): a sandbox counts usage + (limit - usage) / F.", DefaultValueFactory = _ => 64 };
        var openFiles = new Option<long>("--open-files") { Description = "RLIMIT_NOFILE thawd raises itself (and its zygotes) to.", DefaultValueFactory = _ => 1L << 20 };
        var poolSize = new Option<int>("--pool-size") { Description = "Network namespaces, cgroups and roots crafted ahead (each pool).", DefaultValueFactory = _ => 64 };
        var pooledMemory = new Option<string?>("--pooled-cgroup-memory") { Description = "Memory limit of pooled cgroups before a claim, the root zygote's included (default: thawd's, 256M). Pages a zygote touches for its sandboxes count there." };
        var samples = new Option<int>("--memory-samples") { Description = "Idle sandboxes whose memory is read (spread over all).", DefaultValueFactory = _ => 200 };
        var resume = new Option<int?>("--resume") { Description = "Frozen sandboxes to resume one by one (default: all)." };
        var json = new Option<FileInfo?>("--json") { Description = "Write the report (held, memory per sandbox, resume p50/p99, bounds) as JSON to this file." };
        var stateDir = new Option<string>("--state-dir") { Description = "Where the bench's thawd keeps its state.", DefaultValueFactory = _ => "/var/lib/thaw" };
        var command = new Command("density", "How many idle (frozen) warm hello sandboxes one node holds: starts and holds --count of them in an in-process thawd, measures memory per idle sandbox (USS, page tables, its cgroup's usage and kernel memory, node-wide deltas), resumes each (thaw + call, p50/p99), and shows what bounds the count (memory, budget, fds, pids, mounts, cgroups, namespaces) with numbers; SEUSS's 50,000 per node is the anchor.")
        {
            count, parallel, memory, budget, overcommit, openFiles, poolSize, pooledMemory, samples, resume, json, stateDir,
        };
        command.SetAction(async (parse, token) =>
        {
            var options = new Bench.Density.DensityOptions(parse.GetValue(count), parse.GetValue(parallel), parse.GetValue(samples), parse.GetValue(resume),
                parse.GetValue(memory)!, parse.GetValue(budget) is { } b ? Thaw.Runtimes.Units.ParseBytes(b) : null, parse.GetValue(overcommit),
                parse.GetValue(openFiles), parse.GetValue(poolSize), parse.GetValue(pooledMemory) is { } p ? Thaw.Runtimes.Units.ParseBytes(p) : null, parse.GetValue(stateDir)!);
            if (options.Count < 1 || options.Parallel < 1 || options.MemorySamples < 0 || options.PoolSize < 1 || options.ResumeCount < 0)
                throw new ArgumentException("--count, --parallel and --pool-size must be at least 1; --memory-samples and --resume not negative");
            var report = await new Bench.Density.DensityBench(options, AnsiConsole.Console).RunAsync(token);
            WriteFiles(parse.GetValue(json), f => Bench.Density.DensityReportWriter.WriteJson(report, f), null, _ => { });
            return report.LeftBehind.Count == 0 ? 0 : 1;
        });
        return command;
    }

    private static Command Http()
    {
        var duration = new Option<string>("--duration") { Description = "How long wrk loads each warm case per client count, in whole seconds (5s, 1m).", DefaultValueFactory = _ => "5s" };
        var clients = new Option<string>("--clients") { Description = "Client counts for the warm cases and the floor: wrk keep-alive connections, comma-separated.", DefaultValueFactory = _ => "1,16" };
        var samples = new Option<int>("--cold-samples") { Description = "Cold calls measured per cold case (each after 300 ms idle; 100 makes the p99 mean something).", DefaultValueFactory = _ => 100 };
        var json = new Option<FileInfo?>("--json") { Description = "Write {\"results\":[{\"case\",\"clients\",\"p50_ms\",\"p99_ms\",\"rps\"}]} to this file." };
        var stateDir = new Option<string>("--state-dir") { Description = "Where the bench's thawd keeps its state.", DefaultValueFactory = _ => "/var/lib/thaw" };
        var command = new Command("http", "thawd over loopback HTTP beside the floor (a bare Kestrel endpoint) in the same run: warm invocation overhead of a noop function (p50/p99, throughput) per client count under wrk; cold invocation of hello, of image-resize (platform latency: its handler's own time taken out) and of an exec function (cat) end to end.")
        {
            duration, clients, samples, json, stateDir,
        };
        command.SetAction(async (parse, token) =>
        {
            var options = new Bench.Http.HttpBench.Options(ParseConcurrency(parse.GetValue(clients)!, "--clients"), ParseDuration(parse.GetValue(duration)!),
                Math.Max(3, parse.GetValue(samples)), parse.GetValue(stateDir)!);
            var (report, cold) = await Bench.Http.HttpBench.RunAsync(options, AnsiConsole.Console, token);
            Bench.Http.HttpReportWriter.Print(report, AnsiConsole.Console);
            Bench.Http.HttpReportWriter.PrintComparison(report, cold, AnsiConsole.Console);
            WriteFiles(parse.GetValue(json), f => Bench.Http.HttpReportWriter.WriteJson(report, f), null, _ => { });
            return 0;
        });
        return command;
    }

    private static Command Python()
    {
        var baseline = new Option<string>("--baseline") { Description = "runc (a fresh python3 in a runc container, installed from Debian if missing) or none.", DefaultValueFactory = _ => "runc" };
        var samples = new Option<int>("--samples") { Description = "Cold starts measured per function and Thaw mode.", DefaultValueFactory = _ => 40 };
        var peerSamples = new Option<int>("--peer-samples") { Description = "Cold starts measured per function in runc.", DefaultValueFactory = _ => 20 };
        var json = new Option<FileInfo?>("--json") { Description = "Write {\"results\":[{\"function\",\"mode\",\"median_ms\",\"p99_ms\"}]} to this file." };
        var plot = new Option<FileInfo?>("--plot") { Description = "Draw median cold start per function and mode to this .png or .svg file." };
        var stateDir = new Option<string>("--state-dir") { Description = "Where the bench keeps its functions, pools and runc state.", DefaultValueFactory = _ => "/var/lib/thaw" };
        var command = new Command("python", "Python cold start, request → first reply, for functions importing nothing, numpy, PIL+numpy and ten locally built packages: a fresh python3 in runc vs Thaw exec'ing a fresh interpreter, forking the root zygote, forking the import cache's matching zygote, and Morula.")
        {
            baseline, samples, peerSamples, json, plot, stateDir,
        };
        command.SetAction(parse =>
        {
            string peer = parse.GetValue(baseline)!;
            if (peer is not ("runc" or "none"))
                throw new ArgumentException($"--baseline: '{peer}' is not runc or none");
            var options = new Bench.Python.PythonBenchOptions(parse.GetValue(samples), parse.GetValue(peerSamples), peer == "runc", parse.GetValue(stateDir)!);
            if (options.Samples < 1 || options.PeerSamples < 1)
                throw new ArgumentException("--samples and --peer-samples must be at least 1");
            var report = new Bench.Python.PythonBench(options, AnsiConsole.Console).Run();
            Bench.Python.PythonReportWriter.Print(report, AnsiConsole.Console);
            WriteFiles(parse.GetValue(json), f => Bench.Python.PythonReportWriter.WriteJson(report, f), parse.GetValue(plot), f => Bench.Python.PythonReportWriter.WritePlot(report, f));
            return 0;
        });
        return command;
    }

    private static Command Startup()
    {
        var concurrency = new Option<string>("--concurrency", "-c") { Description = "Burst sizes: that many sandboxes requested at once.", DefaultValueFactory = _ => "1,10,20,50" };
        var baseline = new Option<string>("--baseline") { Description = "Peers to compare with in the same run: runc, docker, or none. Installed from Debian if missing.", DefaultValueFactory = _ => "runc,docker" };
        var samples = new Option<int>("--samples") { Description = "Thaw sandboxes measured per burst size (at least 10 bursts at c=1).", DefaultValueFactory = _ => 200 };
        var peerSamples = new Option<int>("--peer-samples") { Description = "runc and Docker containers measured per burst size (they are 10–100× slower).", DefaultValueFactory = _ => 40 };
        var json = new Option<FileInfo?>("--json") { Description = "Write {\"results\":[{\"system\",\"concurrency\",\"median_ms\",\"p99_ms\",\"wall_ms\"}]} to this file." };
        var plot = new Option<FileInfo?>("--plot") { Description = "Draw median latency per burst size to this .png or .svg file." };
        var startDocker = new Option<bool>("--start-docker") { Description = "Start a dockerd of the bench's own (data under the state dir, no iptables or bridge), stopped at the end." };
        var variants = new Option<bool>("--variants") { Description = "Also measure Thaw's alternatives: forking the Python zygote (thaw-fork), no mount namespace (thaw-no-mntns), no seccomp filter (thaw-no-seccomp), and the zygote cloning exec sandboxes instead of thawd (thaw-zygote)." };
        var stateDir = new Option<string>("--state-dir") { Description = "Where the bench keeps its rootfs, pools and peers' state.", DefaultValueFactory = _ => "/var/lib/thaw" };
        var command = new Command("startup", "Sandbox start latency: request → a sandboxed /bin/true has exited, for bursts of N at once; Thaw vs runc vs Docker in one run on the same busybox rootfs.")
        {
            concurrency, baseline, samples, peerSamples, json, plot, startDocker, variants, stateDir,
        };
        command.SetAction(parse =>
        {
            var baselines = parse.GetValue(baseline)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(b => b != "none").Distinct().ToList();
            var options = new Bench.Startup.StartupBenchOptions(ParseConcurrency(parse.GetValue(concurrency)!), baselines,
                parse.GetValue(samples), parse.GetValue(peerSamples), parse.GetValue(stateDir)!, parse.GetValue(startDocker), parse.GetValue(variants));
            if (options.Samples < 1 || options.PeerSamples < 1)
                throw new ArgumentException("--samples and --peer-samples must be at least 1");
            var report = new Bench.Startup.StartupBench(options, AnsiConsole.Console).Run();
            Bench.Startup.StartupReportWriter.Print(report, AnsiConsole.Console);
            WriteFiles(parse.GetValue(json), f => Bench.Startup.StartupReportWriter.WriteJson(report, f), parse.GetValue(plot), f => Bench.Startup.StartupReportWriter.WritePlot(report, f));
            return 0;
        });
        return command;
    }

    private static Command Pools()
    {
        var concurrency = new Option<string>("--concurrency", "-c")
        {
            Description = "Burst sizes to measure, comma-separated.",
            DefaultValueFactory = _ => "1,10,20,50",
        };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the results as JSON to this file." };
        var samples = new Option<int>("--samples")
        {
            Description = "Claims measured per resource and burst size for the pool path (fewer for the slower paths).",
            DefaultValueFactory = _ => 400,
        };
        var refillRate = new Option<int>("--refill-rate") { Description = "Steady claims per second for the refill check.", DefaultValueFactory = _ => 200 };
        var only = new Option<string?>("--resources") { Description = "Only these resources, comma-separated: netns-none, netns-bridge, cgroup, root." };
        var stateDir = new Option<string>("--state-dir") { Description = "Where the bench pins its namespaces and roots.", DefaultValueFactory = _ => "/var/lib/thaw" };

        var command = new Command("pools", "Claim latency from warm pools vs fresh creation (and vs `ip` for network namespaces), per burst size; pooled kernel memory; refill rate.")
        {
            concurrency, json, samples, refillRate, only, stateDir,
        };
        command.SetAction(parse =>
        {
            var levels = ParseConcurrency(parse.GetValue(concurrency)!);
            var filter = parse.GetValue(only)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
            var options = new PoolsBenchOptions(levels, filter, parse.GetValue(stateDir)!, parse.GetValue(samples), parse.GetValue(refillRate), 2.0, 50);
            var report = new PoolsBench(options, AnsiConsole.Console).Run();
            PoolsReport.Print(report, AnsiConsole.Console);
            if (parse.GetValue(json) is { } file)
            {
                File.WriteAllText(file.FullName, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
                AnsiConsole.MarkupLine($"JSON written to [blue]{Markup.Escape(file.FullName)}[/]");
            }
            return 0;
        });
        return command;
    }

    private static void WriteFiles(FileInfo? json, Action<string> writeJson, FileInfo? plot, Action<string> writePlot)
    {
        if (json is not null)
        {
            writeJson(json.FullName);
            AnsiConsole.MarkupLine($"JSON written to [blue]{Markup.Escape(json.FullName)}[/]");
        }
        if (plot is not null)
        {
            writePlot(plot.FullName);
            AnsiConsole.MarkupLine($"plot written to [blue]{Markup.Escape(plot.FullName)}[/]");
        }
    }

    internal static IReadOnlyList<int> ParseConcurrency(string text, string option = "--concurrency")
    {
        var levels = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1 || n > 1000)
                throw new ArgumentException($"{option}: '{part}' is not a whole number from 1 to 1000");
            levels.Add(n);
        }
        return levels.Count > 0 ? levels : throw new ArgumentException($"{option}: give at least one count, e.g. 1,10,20,50");
    }

    /// <summary>Whole seconds, as wrk takes them: 5, 5s or 1m.</summary>
    internal static TimeSpan ParseDuration(string text)
    {
        text = text.Trim();
        int scale = text.EndsWith('m') ? 60 : 1;
        string digits = text.TrimEnd('s', 'm');
        if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1 || digits.Length + 1 < text.Length)
            throw new ArgumentException($"--duration: '{text}' is not a whole number of seconds or minutes, e.g. 5s or 1m");
        return TimeSpan.FromSeconds(n * scale);
    }
}
