using Spectre.Console;
using Thaw.Cli.Bench.Density;
using Thaw.Tests.Support;

namespace Thaw.Tests.Cli.Bench;

/// <summary>thaw bench density on a small count: a real thawd, real sandboxes held, frozen, measured, resumed and stopped.</summary>
[Collection(RunsAlone.Name)]
public sealed class DensityBenchTests
{
    [Fact]
    public async Task Holds_measures_resumes_and_leaves_nothing()
    {
        string state = TestInstance.NewTempDir("thaw-test-density-");
        try
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null), Interactive = InteractionSupport.No });
            var options = new DensityOptions(Count: 40, Parallel: 4, MemorySamples: 10, ResumeCount: null, FunctionMemory: "64M", BudgetBytes: 4L << 30,
                Overcommit: 64, OpenFiles: 1L << 20, PoolSize: 8, PooledCgroupMemory: null, StateDir: state);
            var report = await new DensityBench(options, console).RunAsync(CancellationToken.None);

            Assert.Null(report.StoppedBy);
            Assert.Equal(40, report.Held);
            Assert.Equal(40, report.Resume.Count);
            Assert.Equal(0, report.Resume.Cold);
            Assert.True(report.Resume.P50Ms > 0 && report.Resume.P99Ms >= report.Resume.P50Ms);
            Assert.Equal(10, report.Memory.Sampled);
            Assert.InRange(report.Memory.UssBytes, 64L << 10, 64L << 20);
            Assert.InRange(report.Memory.CgroupBytes, 64L << 10, 64L << 20);
            Assert.True(report.Memory.PageTableBytes > 0);
            Assert.Equal("measured", report.Budget.Accounting);
            Assert.True(report.Budget.CountedBytes < report.Budget.LimitBytes);
            var fds = report.Bounds.Single(b => b.Resource == "thawd file descriptors");
            Assert.InRange(fds.PerSandbox, 1, 4);
            // Host-wide counts (other processes come and go on a shared host): present, not exact.
            Assert.Contains(report.Bounds, b => b.Resource == "kernel tasks (pids)" && b.Limit == long.Parse(File.ReadAllText("/proc/sys/kernel/pid_max").Trim(), System.Globalization.CultureInfo.InvariantCulture));
            Assert.Empty(report.LeftBehind);
            Assert.False(Directory.Exists(Path.Combine(state, "bench-density")));
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }
}
