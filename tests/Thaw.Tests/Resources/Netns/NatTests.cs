using Thaw.Resources.Netns;
using Thaw.Tests.Support;

namespace Thaw.Tests.Resources.Netns;

/// <summary>
/// Bridge-mode egress, tested without leaving the machine: an "outside" host of the test's own (a
/// namespace behind a veth on another subnet) plays the world. The sandbox reaches it only through
/// the host's forwarding, and the outside sees the host's address, not the sandbox's: masquerade.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class NatTests : IDisposable
{
    private readonly TestInstance _instance = new();
    private readonly string _forwardBefore = File.ReadAllText("/proc/sys/net/ipv4/ip_forward").Trim();

    [Fact]
    public void A_sandbox_reaches_an_outside_host_masqueraded_and_the_rules_go_with_the_pool()
    {
        string outside = _instance.Naming.Name + "o";
        string net = $"10.254.{Random.Shared.Next(0, 64) * 4}";
        var options = new NetnsPoolOptions { Size = 1, Mode = NetnsMode.Bridge, Subnet = TestInstance.RandomSubnet(), Nat = true };
        try
        {
            Sh($"ip netns add {outside} && ip -n {outside} link set lo up && ip link add {outside} type veth peer name eth0 netns {outside}"
                + $" && ip addr add {net}.1/30 dev {outside} && ip link set {outside} up"
                + $" && ip -n {outside} addr add {net}.2/30 dev eth0 && ip -n {outside} link set eth0 up");
            using (var pool = new NetnsPool(_instance.Naming, options, TestInstance.Logger))
            {
                Assert.Equal("1", File.ReadAllText("/proc/sys/net/ipv4/ip_forward").Trim());
                Assert.Equal(3, LeakCensus.NatRules(_instance.Naming).Count);
                var sandbox = pool.Claim();
                var (code, output) = LeakCensus.Run("python3", "-c",
                    "import socket,subprocess,time\n" +
                    $"srv=subprocess.Popen(['ip','netns','exec','{outside}','python3','-c','import socket;s=socket.socket();s.bind((\"{net}.2\",7070));s.listen();c,a=s.accept();c.sendall(a[0].encode())'])\n" +
                    "time.sleep(0.5)\n" +
                    $"out=subprocess.run(['nsenter','--net={sandbox.Path}','python3','-c','import socket;c=socket.create_connection((\"{net}.2\",7070),timeout=3);print(c.recv(64).decode())'],capture_output=True,text=True,timeout=10)\n" +
                    "srv.kill()\nprint(out.stdout.strip() or out.stderr.strip())");
                Assert.True(code == 0, output);
                Assert.Equal($"{net}.1", output.Trim()); // the host's address on the outside link, not the sandbox's
                Assert.NotEqual(sandbox.Address!.ToString(), output.Trim());
                pool.Release(sandbox);
            }
            Assert.Empty(LeakCensus.NatRules(_instance.Naming));
            Assert.Equal(_forwardBefore, File.ReadAllText("/proc/sys/net/ipv4/ip_forward").Trim());
        }
        finally
        {
            LeakCensus.Run("ip", "netns", "del", outside);
            LeakCensus.Run("ip", "link", "del", outside);
        }
    }

    [Fact]
    public void Nat_without_bridge_mode_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new NetnsPoolOptions { Nat = true }.Validate());
        Assert.Contains("bridge mode", e.Message, StringComparison.Ordinal);
    }

    private static void Sh(string script)
    {
        var (code, output) = LeakCensus.Run("/bin/sh", "-c", script);
        Assert.True(code == 0, output);
    }

    public void Dispose()
    {
        Assert.Empty(LeakCensus.NatRules(_instance.Naming));
        Assert.Empty(LeakCensus.LinksStartingWith(_instance.Naming.Name));
        Assert.Empty(LeakCensus.MountsUnder(_instance.Naming.StateDir));
        _instance.Dispose();
    }
}
