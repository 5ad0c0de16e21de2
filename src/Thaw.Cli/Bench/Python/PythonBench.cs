using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Spectre.Console;
using Thaw.Resources;
using Thaw.Resources.Cgroups;
using Thaw.Resources.Netns;
using Thaw.Resources.Pooling;
using Thaw.Resources.Roots;
using Thaw.Runtimes.Functions;
using Thaw.Runtimes.Packages;
using Thaw.Runtimes.Python;
using Thaw.Sandboxes;
using Thaw.Sandboxes.Zygotes;

namespace Thaw.Cli.Bench.Python;

internal sealed record PythonBenchOptions(int Samples, int PeerSamples, bool Runc, string StateDir);

/// <summary>One row of the JSON: {"function","mode","median_ms","p99_ms"} (+ samples).</summary>
internal sealed record PythonResult(string Function, string Mode, double MedianMs, double P99Ms, int Samples);

internal sealed record PythonReport(IReadOnlyList<PythonResult> Results, IReadOnlyList<string> Notes, string Host, DateTime StartedUtc);

/// <summary>
/// `thaw bench python`: a Python function's cold start, request to first reply, in one run:
/// a fresh python3 in a runc container (the usual platform), a fresh python3 exec'd in a Thaw
/// sandbox (no zygotes), a fork from Thaw's root zygote (the bare runtime), a fork from the
/// import cache's matching zygote (the function's packages already imported), and Morula (one of
/// the function's pool of exec'd interpreters that already imported them: fresh ASLR).
/// </summary>
internal sealed class PythonBench(PythonBenchOptions options, IAnsiConsole console)
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan IdleBetweenStarts = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan MorulaRefill = TimeSpan.FromMilliseconds(400);
    private readonly string _dir = Path.Combine(options.StateDir, "bench-python");
    private readonly List<PythonResult> _results = [];
    private readonly List<string> _notes = [];

    public PythonReport Run()
    {
        var started = DateTime.UtcNow;
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
        Directory.CreateDirectory(_dir);
        try
        {
            var functions = BenchFunctions.Create(Path.Combine(_dir, "functions"), Path.Combine(_dir, "wheelhouse"));
            var packages = new InstallCacheOptions { Root = Path.Combine(_dir, "packages"), Wheelhouse = Path.Combine(_dir, "wheelhouse") };
            Directory.CreateDirectory(packages.Root);
            var thaw = new ThawOptions
            {
                Name = "thawbp",
                StateDir = Path.Combine(_dir, "thaw"),
                Netns = new NetnsPoolOptions { Size = 6 },
                Cgroups = new CgroupPoolOptions { Size = 8 },
                Roots = new RootPoolOptions { Size = 8 },
            };
            using var host = ResourceHost.Start(thaw, NullLogger.Instance);
            // Zygotes see the install cache at /packages, as the sandboxes do.
            var spawner = new SandboxSpawner(host, new SandboxOptions { Zygote = new ZygoteOptions { PackagesDir = packages.Root } }, NullLogger.Instance);
            try
            {
                Install(spawner, packages, functions);
                if (options.Runc)
                {
                    using var runc = new RuncPython(Path.Combine(_dir, "runc"), functions, packages.Root, Say);
                    foreach (var f in functions)
                        Measure(f, runc.Mode, options.PeerSamples, () => runc.ColdStart(f), settle: null);
                }
                else
                {
                    _notes.Add("runc-python skipped (--baseline none)");
                }
                MeasureThaw(host, spawner, packages, functions);
            }
            finally
            {
                spawner.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
        finally
        {
            Directory.Delete(_dir, recursive: true);
        }
        return new PythonReport(_results, _notes, Environment.MachineName, started);
    }

    /// <summary>Installs the functions' packages into the install cache first: every mode then finds them there.</summary>
    private void Install(SandboxSpawner spawner, InstallCacheOptions packages, IReadOnlyList<BenchFunction> functions)
    {
        var installer = new PythonRuntime(spawner, new PythonRuntimeOptions { ImportCache = null, Packages = packages }, NullLogger.Instance);
        console.Status().Start($"installing {BenchFunctions.LocalPackages} locally built packages through the install cache...", _ =>
        {
            foreach (var f in functions)
                f.PackagePaths = installer.PreparePackagesAsync(FunctionManifest.Load(f.Dir)).GetAwaiter().GetResult();
        });
    }

    private void MeasureThaw(ResourceHost host, SandboxSpawner spawner, InstallCacheOptions packages, IReadOnlyList<BenchFunction> functions)
    {
        void Settle()
        {
            foreach (var pool in host.Pools())
                pool.WaitUntilFull(TimeSpan.FromSeconds(30));
            // Cold starts are measured from an idle platform: zygotes re-park a child once idle for
            // 20 ms (zygote.py, PARK_WHEN_IDLE_MS), which forks, warms up and pre-faults its pages
            // (~150 ms for a numpy+PIL zygote here) before it can take a request.
            Thread.Sleep(IdleBetweenStarts);
        }
        Settle();
        foreach (var f in functions)
        {
            var spec = new SandboxSpec
            {
                Argv = ["/usr/bin/python3", "-I", "-S", "-c", f.FreshInterpreterMain],
                CodeDir = f.Dir,
                PackagesDir = packages.Root,
                Limits = new CgroupLimits(256L << 20, 1.0, 64),
            };
            Measure(f, "thaw-exec", options.Samples, () => ExecOnce(spawner, spec), Settle);
        }
        var runtime = new PythonRuntime(spawner, new PythonRuntimeOptions { ImportCache = null, Packages = packages }, NullLogger.Instance);
        foreach (var f in functions)
            Measure(f, "root-zygote", options.Samples, () => ForkOnce(runtime, f), Settle);

        // Learning would build these after a function's second cold start; built up front here.
        var tree = new PythonRuntime(spawner, new PythonRuntimeOptions { ImportCache = new ImportCacheOptions { HotStarts = int.MaxValue }, Packages = packages }, NullLogger.Instance);
        try
        {
            foreach (var f in functions)
            {
                ForkOnce(tree, f);
                console.Status().Start($"{f.Name}: building its zygote", _ => tree.ImportCache!.PrepareAsync(f.Name).GetAwaiter().GetResult());
                Measure(f, "zygote-tree", options.Samples, () => ForkOnce(tree, f), Settle);
            }
        }
        finally
        {
            tree.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        // Morula: each function's own pool of exec'd interpreters that imported its packages.
        var morula = new PythonRuntime(spawner, new PythonRuntimeOptions { ImportCache = null, MorulaPool = 2, Packages = packages }, NullLogger.Instance);
        try
        {
            void SettleMorula()
            {
                Settle();
                Thread.Sleep(MorulaRefill); // a fresh interpreter execs and imports numpy+PIL in ~200 ms here
            }
            foreach (var f in functions)
            {
                var fresh = FunctionManifest.Load(f.Dir) with { Isolation = FunctionIsolation.Fresh };
                ForkOnce(morula, f, fresh);          // learns what it imports
                SettleMorula();
                ForkOnce(morula, f, fresh);          // builds the pool whose interpreters import it
                Measure(f, "morula", options.Samples, () => ForkOnce(morula, f, fresh), SettleMorula);
            }
        }
        finally
        {
            morula.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static double ExecOnce(SandboxSpawner spawner, SandboxSpec spec)
    {
        long start = Stopwatch.GetTimestamp();
        var sandbox = spawner.RunAsync(spec).GetAwaiter().GetResult();
        var exit = sandbox.Exited.GetAwaiter().GetResult();
        if (exit.ExitCode != 0)
            throw new InvalidOperationException($"thaw-exec: python3 ended with {exit}: {sandbox.Stderr}");
        return Stopwatch.GetElapsedTime(start, exit.ExitedAt).TotalMilliseconds;
    }

    private static double ForkOnce(PythonRuntime runtime, BenchFunction f, FunctionManifest? manifest = null)
    {
        manifest ??= FunctionManifest.Load(f.Dir);
        long start = Stopwatch.GetTimestamp();
        var sandbox = runtime.StartAsync(manifest, f.Dir).GetAwaiter().GetResult();
        try
        {
            var call = sandbox.InvokeAsync("null"u8.ToArray(), CallTimeout).GetAwaiter().GetResult();
            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (!call.Succeeded)
                throw new InvalidOperationException($"{f.Name}: {call.Error}");
            return ms;
        }
        finally
        {
            sandbox.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private void Measure(BenchFunction f, string mode, int samples, Func<double> once, Action? settle)
    {
        var result = console.Status().Start($"{mode}: {f.Name}", _ =>
        {
            settle?.Invoke();
            once(); // warm-up (page cache, first-use paths), not recorded
            var ms = new List<double>();
            for (int i = 0; i < samples; i++)
            {
                settle?.Invoke();
                ms.Add(once());
            }
            ms.Sort();
            return new PythonResult(f.Name, mode, LatencyReservoir.Percentile(ms, 0.5), LatencyReservoir.Percentile(ms, 0.99), ms.Count);
        });
        _results.Add(result);
    }

    private void Say(string message) => console.MarkupLine($"[grey]{Markup.Escape(message)}[/]");
}
