using System.Net;
using System.Net.Sockets;
using Thaw.Resources.Netns;
using Thaw.Tests.Support;

namespace Thaw.Tests.Resources.Netns;

[Collection(RunsAlone.Name)]
public sealed class NetnsPoolTests : IDisposable
{
    private readonly TestInstance _instance = new();

    [Fact]
    public void Mode_none_pool_fills_and_claims_namespaces_with_loopback_up()
    {
        using var pool = new NetnsPool(_instance.Naming, new NetnsPoolOptions { Size = 4 }, TestInstance.Logger);
        Assert.True(pool.Pool.WaitUntilFull(TimeSpan.FromSeconds(10)));
        var netns = pool.Claim();
        var (code, output) = LeakCensus.Run("nsenter", $"--net={netns.Path}", "cat", "/sys/class/net/lo/operstate", "/proc/net/dev");
        Assert.Equal(0, code);
        Assert.DoesNotContain("eth0", output, StringComparison.Ordinal);
        // loopback is up: a TCP server inside is reachable inside.
        var (pcode, pout) = LeakCensus.Run("nsenter", $"--net={netns.Path}", "python3", "-c",
            "import socket;s=socket.socket();s.bind(('127.0.0.1',0));s.listen();c=socket.create_connection(s.getsockname(),timeout=2);print('ok')");
        Assert.True(pcode == 0, pout);
        Assert.Equal(0, pool.Stats().Misses);
        pool.Release(netns);
    }

    [Fact]
    public void Claims_beyond_the_level_are_counted_as_misses_and_still_succeed()
    {
        using var pool = new NetnsPool(_instance.Naming, new NetnsPoolOptions { Size = 2 }, TestInstance.Logger);
        Assert.True(pool.Pool.WaitUntilFull(TimeSpan.FromSeconds(10)));
        var claimed = Enumerable.Range(0, 6).Select(_ => pool.Claim()).ToList();
        Assert.Equal(6, claimed.Select(n => n.Path).Distinct().Count());
        Assert.Equal(6, pool.Stats().Claims);
        Assert.InRange(pool.Stats().Misses, 1, 4); // the refill worker races the claims for the rest
        foreach (var n in claimed) pool.Release(n);
    }

    [Fact]
    public void Released_namespaces_are_recycled_not_recreated()
    {
        using var pool = new NetnsPool(_instance.Naming, new NetnsPoolOptions { Size = 1 }, TestInstance.Logger);
        Assert.True(pool.Pool.WaitUntilFull(TimeSpan.FromSeconds(10)));
        var first = pool.Claim();
        pool.Release(first);
        Assert.True(SpinWait.SpinUntil(() => pool.Stats().Recycled == 1, 5000));
        var next = new[] { pool.Claim(), pool.Claim() };
        Assert.Contains(first, next);
        Assert.Equal(0, pool.Stats().Destroyed);
        foreach (var n in next) pool.Release(n);
    }

    [Fact]
    public void Bridge_mode_gives_each_namespace_an_address_that_reaches_the_host_bridge_but_not_its_siblings()
    {
        var options = new NetnsPoolOptions { Size = 2, Mode = NetnsMode.Bridge, Subnet = TestInstance.RandomSubnet() };
        using var pool = new NetnsPool(_instance.Naming, options, TestInstance.Logger);
        var a = pool.Claim();
        var b = pool.Claim();
        Assert.NotEqual(a.Address, b.Address);
        Assert.Contains(_instance.Naming.BridgeName, LeakCensus.LinksStartingWith(_instance.Naming.Name));

        using var listener = new TcpListener(pool.Bridge!.Addresses.Gateway, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var (code, output) = LeakCensus.Run("nsenter", $"--net={a.Path}", "python3", "-c",
            $"import socket;socket.create_connection(('{pool.Bridge.Addresses.Gateway}',{port}),timeout=2);print('ok')");
        Assert.True(code == 0, output);

        // b listens on its own address; a must not reach it (isolated bridge ports).
        var (icode, ioutput) = LeakCensus.Run("nsenter", $"--net={a.Path}", "python3", "-c",
            $"import socket,subprocess,sys\n" +
            $"srv=subprocess.Popen(['nsenter','--net={b.Path}','python3','-c','import socket,time;s=socket.socket();s.bind((\"{b.Address}\",7777));s.listen();time.sleep(3)'])\n" +
            "import time;time.sleep(0.5)\n" +
            $"try:\n socket.create_connection(('{b.Address}',7777),timeout=1);print('reached')\nexcept OSError as e:\n print('blocked',e)\n" +
            "srv.kill()");
        Assert.True(icode == 0, ioutput);
        Assert.Contains("isolated on", LeakCensus.Run("bridge", "-d", "link", "show", "dev", a.HostVeth!).Output, StringComparison.Ordinal);
        Assert.Contains("blocked", ioutput, StringComparison.Ordinal);
        pool.Release(a);
        pool.Release(b);
    }

    [Fact]
    public void A_subnet_that_overlaps_the_host_fails_at_start_and_creates_nothing()
    {
        // The host's own address where it has one; loopback's 127.0.0.1/8 otherwise (a machine
        // without a network card, such as the cgroup v2 VM), which the check covers as well.
        using var netlink = new Thaw.Linux.Netlink.NetlinkSocket();
        var addresses = netlink.ListAddresses().Where(a => a.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork).ToList();
        var hostAddress = addresses.FirstOrDefault(a => !IPAddress.IsLoopback(a.Address)) ?? addresses.First();
        var bytes = hostAddress.Address.GetAddressBytes();
        var options = new NetnsPoolOptions { Size = 1, Mode = NetnsMode.Bridge, Subnet = $"{bytes[0]}.{bytes[1]}.0.0/16" };
        var e = Assert.Throws<ArgumentException>(() => new NetnsPool(_instance.Naming, options, TestInstance.Logger));
        Assert.Contains($"overlaps the host's address {hostAddress.Address}/{hostAddress.PrefixLength}", e.Message, StringComparison.Ordinal);
        Assert.Empty(LeakCensus.LinksStartingWith(_instance.Naming.Name));
        Assert.Empty(LeakCensus.MountsUnder(_instance.Naming.StateDir));
    }

    [Fact]
    public void A_pool_that_lived_and_died_leaves_no_fd_behind()
    {
        // Warm up whatever the runtime opens lazily (netlink, nsenter pipes) before counting.
        using (var warm = new NetnsPool(_instance.Naming, new NetnsPoolOptions { Size = 1, Mode = NetnsMode.Bridge, Subnet = TestInstance.RandomSubnet() }, TestInstance.Logger))
            warm.Pool.WaitUntilFull(TimeSpan.FromSeconds(10));
        int before = LeakCensus.NamespaceAndNetlinkFds();
        using (var pool = new NetnsPool(_instance.Naming, new NetnsPoolOptions { Size = 8, Mode = NetnsMode.Bridge, Subnet = TestInstance.RandomSubnet() }, TestInstance.Logger))
        {
            Assert.True(pool.Pool.WaitUntilFull(TimeSpan.FromSeconds(10)));
            var claimed = Enumerable.Range(0, 12).Select(_ => pool.Claim()).ToList();
            Assert.True(LeakCensus.NamespaceAndNetlinkFds() >= before + 2 * 12 + 1); // ns fd + netlink socket each, + the host socket
            foreach (var n in claimed) pool.Release(n);
        }
        Assert.Equal(before, LeakCensus.NamespaceAndNetlinkFds());
    }

    [Theory]
    [InlineData("10.1.2.3/16", "host bits")]
    [InlineData("banana", "CIDR")]
    [InlineData("10.0.0.0/31", "prefix")]
    public void Bad_subnets_are_rejected_with_a_clear_message(string subnet, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => new NetnsPoolOptions { Mode = NetnsMode.Bridge, Subnet = subnet }.Validate());
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Negative_size_is_rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new NetnsPool(_instance.Naming, new NetnsPoolOptions { Size = -1 }, TestInstance.Logger));
        Assert.Contains("size", e.Message, StringComparison.Ordinal);
        Assert.Empty(LeakCensus.MountsUnder(_instance.Naming.StateDir));
    }

    public void Dispose()
    {
        Assert.Empty(LeakCensus.MountsUnder(_instance.Naming.StateDir));
        Assert.Empty(LeakCensus.LinksStartingWith(_instance.Naming.Name));
        Assert.Empty(LeakCensus.ThreadsOutsideHostNetns());
        _instance.Dispose();
    }
}
