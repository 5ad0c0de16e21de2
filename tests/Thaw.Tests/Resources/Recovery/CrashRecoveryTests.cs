using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Thaw.Linux.Cgroups;
using Thaw.Resources;
using Thaw.Tests.Support;

namespace Thaw.Tests.Resources.Recovery;

/// <summary>
/// A process holding every pool is killed with SIGKILL, so none of its cleanup runs; the next start
/// of an instance with the same name and state dir must find and remove everything it left.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class CrashRecoveryTests : IDisposable
{
    private readonly TestInstance _instance = new("thawk");

    [Fact]
    public async Task Next_start_removes_everything_a_SIGKILLed_instance_left()
    {
        var naming = _instance.Naming;
        string forwardBefore = File.ReadAllText("/proc/sys/net/ipv4/ip_forward").Trim();
        string subnet = TestInstance.RandomSubnet();
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "thaw.dll"), "pools", "hold", "--name", naming.Name, "--state-dir", naming.StateDir,
            "--netns", "4", "--bridge", "--bridge-netns", "3", "--subnet", subnet, "--nat", "--cgroups", "3" })
            psi.ArgumentList.Add(a);
        using var child = Process.Start(psi)!;
        string? line;
        try { line = await child.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)); }
        catch (TimeoutException) { line = "timeout"; }
        if (line != "ready")
        {
            child.Kill();
            Assert.Fail($"pools did not start: {line} {await child.StandardError.ReadToEndAsync()}");
        }

        var hierarchy = CgroupHierarchy.Detect();
        var cgroupDirs = hierarchy.MountPaths.Select(m => Path.Combine(m, naming.CgroupName)).Where(Directory.Exists).ToList();
        Assert.NotEmpty(cgroupDirs);
        Assert.Contains(naming.BridgeName, LeakCensus.LinksStartingWith(naming.Name));
        Assert.Equal(3, LeakCensus.LinksStartingWith(naming.VethPrefix).Count);
        Assert.True(LeakCensus.MountsUnder(naming.StateDir).Count >= 4 + 3);

        child.Kill(); // SIGKILL: no finally, no Dispose
        child.WaitForExit();
        Assert.NotEmpty(LeakCensus.MountsUnder(naming.StateDir)); // the crash really left things behind
        Assert.Equal(3, LeakCensus.NatRules(naming).Count);

        var options = new ThawOptions { Name = naming.Name, StateDir = naming.StateDir };
        options.Netns.Size = 1;
        options.Cgroups.Size = 1;
        using (var host = ResourceHost.Start(options, NullLogger.Instance))
        {
            Assert.Contains(host.Recovered, r => r.StartsWith("netns ", StringComparison.Ordinal));
            Assert.Contains(host.Recovered, r => r == "link " + naming.BridgeName);
            Assert.Contains(host.Recovered, r => r.StartsWith("cgroup ", StringComparison.Ordinal));
            Assert.Empty(LeakCensus.LinksStartingWith(naming.Name));
        }
        Assert.Empty(LeakCensus.MountsUnder(naming.StateDir));
        Assert.Empty(LeakCensus.LinksStartingWith(naming.Name));
        Assert.DoesNotContain(cgroupDirs, Directory.Exists);
        Assert.Empty(LeakCensus.NatRules(naming));
        Assert.Equal(forwardBefore, File.ReadAllText("/proc/sys/net/ipv4/ip_forward").Trim());
    }


    [Fact]
    public void Bad_configuration_fails_at_start_with_one_message_naming_every_problem_and_creates_nothing()
    {
        var options = new ThawOptions { Name = _instance.Naming.Name, StateDir = _instance.Naming.StateDir };
        options.Netns.Size = -3;
        options.Cgroups.PidsMax = 0;
        var e = Assert.Throws<ArgumentException>(() => ResourceHost.Start(options, NullLogger.Instance));
        Assert.Contains("netns pool size", e.Message, StringComparison.Ordinal);
        Assert.Contains("pids", e.Message, StringComparison.OrdinalIgnoreCase);
        AssertNothingCreated();
    }

    [Fact]
    public void An_unwritable_state_dir_fails_at_start_and_creates_nothing()
    {
        string ro = Path.Combine(_instance.Naming.StateDir, "ro");
        Directory.CreateDirectory(ro);
        Assert.Equal(0, LeakCensus.Run("mount", "-t", "tmpfs", "-o", "ro,size=64k", "thawtest", ro).Code);
        try
        {
            var options = new ThawOptions { Name = _instance.Naming.Name, StateDir = Path.Combine(ro, "state") };
            var e = Assert.Throws<ArgumentException>(() => ResourceHost.Start(options, NullLogger.Instance));
            Assert.Contains("not writable", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            LeakCensus.Run("umount", ro);
        }
        AssertNothingCreated();
    }

    [Fact]
    public void An_instance_name_without_the_thaw_prefix_is_refused()
    {
        var options = new ThawOptions { Name = "sandbox", StateDir = _instance.Naming.StateDir };
        var e = Assert.Throws<ArgumentException>(() => ResourceHost.Start(options, NullLogger.Instance));
        Assert.Contains("must start with 'thaw'", e.Message, StringComparison.Ordinal);
    }

    private void AssertNothingCreated()
    {
        var hierarchy = CgroupHierarchy.Detect();
        Assert.DoesNotContain(hierarchy.MountPaths.Select(m => Path.Combine(m, _instance.Naming.CgroupName)), Directory.Exists);
        Assert.Empty(LeakCensus.LinksStartingWith(_instance.Naming.Name));
        Assert.Empty(LeakCensus.MountsUnder(_instance.Naming.StateDir));
    }

    public void Dispose()
    {
        ResourceHost.Sweep(_instance.Naming, CgroupHierarchy.Detect());
        _instance.Dispose();
    }
}
