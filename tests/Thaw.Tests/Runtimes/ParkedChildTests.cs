using System.Text;
using Thaw.Tests.Support;

namespace Thaw.Tests.Runtimes;

/// <summary>
/// Children the zygote parks for thawd to claim, when one dies while it waits: counted with thawd's
/// fds, so it runs alone (other tests' sockets would blur the count).
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class ParkedChildTests(PythonFixture fixture) : IClassFixture<PythonFixture>
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(20);

    private static ReadOnlyMemory<byte> Json(string json) => Encoding.UTF8.GetBytes(json);

    [Fact]
    public async Task A_parked_child_that_dies_while_it_waits_is_dropped_and_the_next_sandbox_starts()
    {
        var (manifest, dir) = fixture.Function("name = \"parked-dies\"\n", ("f.py", "import os\ndef f(event):\n    return os.getpid()\n"));
        var zygote = fixture.Spawner.Zygote;
        await Wait.UntilAsync(() => zygote.ParkedPids.Count == 1, TimeSpan.FromSeconds(10), "the zygote to park a child");
        int parked = zygote.ParkedPids[0];
        int fdsBefore = LeakCensus.OpenFdsLessPools(fixture.Host);
        System.Diagnostics.Process.GetProcessById(parked).Kill();
        // thawd hears of the death, closes its end of the child's socket, gives its cgroup back, and
        // the zygote parks another (whose socket and cgroup thawd then holds).
        await Wait.UntilAsync(() => zygote.ParkedPids is [int next] && next != parked, TimeSpan.FromSeconds(10), "a new parked child");
        // At most as many: fds of earlier tests' objects may still be finalized meanwhile; a leaked
        // socket of the dead child would be one more.
        await Wait.UntilAsync(() => LeakCensus.OpenFdsLessPools(fixture.Host) <= fdsBefore, TimeSpan.FromSeconds(10), $"thawd's fds back to {fdsBefore} (now {LeakCensus.OpenFdsLessPools(fixture.Host)})");
        int claimed = zygote.ParkedPids[0];
        await using var sandbox = await fixture.Runtime.StartAsync(manifest, dir);
        Assert.Equal(claimed, sandbox.Sandbox.Pid); // handed straight to the parked child
        Assert.Equal(1, (await sandbox.InvokeAsync(Json("null"), CallTimeout)).Result!.Value.GetInt32());
    }

    [Fact]
    public async Task A_burst_of_cold_starts_makes_the_zygote_park_as_many_for_the_next_one()
    {
        var (manifest, dir) = fixture.Function("name = \"parked-burst\"\n", ("f.py", "import os\ndef f(event):\n    return os.getpid()\n"));
        var zygote = fixture.Spawner.Zygote;
        await Wait.UntilAsync(() => zygote.ParkedPids.Count >= 1, TimeSpan.FromSeconds(10), "the zygote to park a child");
        const int burst = 6;
        var sandboxes = await Task.WhenAll(Enumerable.Range(0, burst).Select(_ => fixture.Runtime.StartAsync(manifest, dir)));
        try
        {
            Assert.True(zygote.ParkTarget >= burst, $"park target {zygote.ParkTarget} after {burst} claims within a second");
            // Refilled once the zygote is idle: as many children waiting as the burst had, each a
            // live process thawd holds the socket of.
            await Wait.UntilAsync(() => zygote.ParkedPids.Count >= burst, TimeSpan.FromSeconds(20), $"{burst} parked children (now {zygote.ParkedPids.Count})");
            Assert.All(zygote.ParkedPids, pid => Assert.True(Directory.Exists($"/proc/{pid}"), $"parked child {pid} is not running"));
            // The next burst of that size is all hand-offs.
            var parked = zygote.ParkedPids.ToHashSet();
            var next = await Task.WhenAll(Enumerable.Range(0, burst).Select(_ => fixture.Runtime.StartAsync(manifest, dir)));
            foreach (var sandbox in next)
            {
                Assert.Contains(sandbox.Sandbox.Pid!.Value, parked);
                await sandbox.DisposeAsync();
            }
        }
        finally
        {
            foreach (var sandbox in sandboxes)
                await sandbox.DisposeAsync();
        }
    }

}
