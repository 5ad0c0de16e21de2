using Spectre.Console;
using Thaw.Cli.Bench.Soak;
using Thaw.Tests.Support;

namespace Thaw.Tests.Cli.Bench;

/// <summary>
/// `thaw bench soak` for real and short: a real thawd process under load while sandboxes and zygotes
/// are SIGKILLed. Checks what the soak promises whatever the machine's speed: every reply 200 or a
/// documented error, faults injected, nothing of the instance left after SIGTERM.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class SoakBenchTests
{
    [Fact]
    public async Task A_short_soak_with_faults_loses_no_call_and_leaves_nothing()
    {
        string stateDir = TestInstance.NewTempDir("thaw-test-soak-");
        try
        {
            var options = new SoakOptions(TimeSpan.FromSeconds(12), Clients: 3, FaultEvery: TimeSpan.FromMilliseconds(500), stateDir)
            {
                InstanceName = "thawk" + Guid.NewGuid().ToString("N")[..3],
                SampleEvery = TimeSpan.FromSeconds(3),
            };
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) });
            var report = await new SoakBench(options, console).RunAsync();

            Assert.True(report.Calls > 0 && report.Lifecycles > 0, $"{report.Calls} calls, {report.Lifecycles} lifecycles");
            Assert.True(report.Faults.Values.Sum() > 0, "no fault was injected");
            Assert.True(report.Unexpected.Count == 0, string.Join("; ", report.Unexpected));
            Assert.True(report.LeftBehind.Count == 0, string.Join(", ", report.LeftBehind));
            Assert.NotEmpty(report.Windows);
            Assert.All(report.Windows, w => Assert.True(w.RssBytes > 0 && w.Fds > 0, $"window at {w.AtSeconds} s: RSS {w.RssBytes}, fds {w.Fds}"));
        }
        finally
        {
            // Never recursively through a mount a failed run left (the leak the test reports).
            if (Thaw.Linux.Mounts.MountTable.Read().MountPointsUnder(stateDir).Count == 0)
                Directory.Delete(stateDir, recursive: true);
        }
    }
}
