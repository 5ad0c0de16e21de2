using Thaw.Linux.Namespaces;
using Thaw.Linux.Netlink;

namespace Thaw.Resources.Netns;

/// <summary>
/// Crafts network namespaces with kernel calls only: unshare + bind mount on the namespace thread,
/// then rtnetlink messages (no `ip` exec). Measured here: ~0.3 ms for mode none vs 1.5 ms for
/// `ip netns add` alone; bridge mode adds one veth message and a handful of small ones.
/// </summary>
internal sealed class NetnsFactory(
    ThawNaming naming, string dir, NamespaceThread thread, NetlinkSocket host, HostBridge? bridge) : Pooling.IResourceFactory<PooledNetns>
{
    private const int Loopback = 1; // lo is always ifindex 1 in a new namespace
    private int _nextId;

    public PooledNetns Create()
    {
        int id = Interlocked.Increment(ref _nextId);
        string path = Path.Combine(dir, $"{naming.Name}-{id}");
        var (fd, netlink) = thread.CreateNetworkNamespace(path);
        var inside = new NetlinkSocket(netlink);
        string? veth = null;
        System.Net.IPAddress? address = null;
        try
        {
            inside.SetLinkUp(Loopback);
            if (bridge is not null)
            {
                veth = naming.VethName(id);
                host.CreateVethPair(veth, "eth0", fd);
                var hostEnd = host.FindLink(veth) ?? throw new InvalidOperationException($"veth {veth} vanished after creation");
                host.SetMasterAndUp(hostEnd.Index, bridge.Index);
                if (IsolatePorts)
                    host.SetBridgePortIsolated(hostEnd.Index);
                var eth0 = inside.FindLink("eth0") ?? throw new InvalidOperationException($"eth0 missing in netns {id}");
                inside.SetLinkUp(eth0.Index);
                address = bridge.Addresses.Take();
                inside.AddAddress(eth0.Index, address, bridge.Addresses.Subnet.PrefixLength);
                inside.AddDefaultRoute(bridge.Addresses.Gateway, eth0.Index);
            }
            var links = inside.ListLinks().Select(l => l.Name).Order(StringComparer.Ordinal).ToArray();
            return new PooledNetns(id, path, fd, inside, links) { HostVeth = veth, Address = address, Gateway = bridge?.Addresses.Gateway };
        }
        catch
        {
            if (veth is not null) host.DeleteLink(veth);
            if (address is not null) bridge!.Addresses.Return(address);
            inside.Dispose();
            fd.Dispose();
            PinDirectory.Unpin(path);
            throw;
        }
    }

    public bool IsolatePorts { get; init; } = true;

    /// <summary>
    /// A sandbox has no CAP_NET_ADMIN, so it cannot rewire its namespace; the check is cheap insurance
    /// (one netlink dump) that the next sandbox gets the namespace exactly as crafted.
    /// </summary>
    public bool TryRecycle(PooledNetns item)
    {
        item.ReopenDescriptors(thread);
        var links = item.Inside.ListLinks();
        if (!links.Select(l => l.Name).Order(StringComparer.Ordinal).SequenceEqual(item.Links))
            return false;
        if (links.Any(l => (l.Name == "lo" || l.Name == "eth0") && !l.Up))
            return false;
        if (item.Address is not null && !item.Inside.ListAddresses().Any(a => a.Address.Equals(item.Address)))
            return false;
        return true;
    }

    public void Destroy(PooledNetns item)
    {
        // Deleting the host veth synchronously also removes its peer; otherwise it would linger until
        // the kernel's asynchronous cleanup_net gets to the namespace.
        if (item.HostVeth is not null)
            host.DeleteLink(item.HostVeth);
        if (item.Address is not null)
            bridge!.Addresses.Return(item.Address);
        item.CloseDescriptors();
        PinDirectory.Unpin(item.Path);
    }
}
