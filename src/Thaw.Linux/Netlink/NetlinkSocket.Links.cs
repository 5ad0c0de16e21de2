using System.Buffers.Binary;

namespace Thaw.Linux.Netlink;

public sealed partial class NetlinkSocket
{
    public IReadOnlyList<NetworkLink> ListLinks()
    {
        var links = new List<NetworkLink>();
        Dump(new NetlinkMessage(Rt.RTM_GETLINK, Rt.NLM_F_REQUEST | Rt.NLM_F_DUMP).IfInfo(), "list links", (type, payload) =>
        {
            if (ParseLink(type, payload) is { } link)
                links.Add(link);
        });
        return links;
    }

    /// <summary>Looks one link up by name without dumping them all (a dump grows with every pooled veth).</summary>
    public NetworkLink? FindLink(string name)
    {
        NetworkLink? found = null;
        try
        {
            Request(new NetlinkMessage(Rt.RTM_GETLINK, Rt.NLM_F_REQUEST).IfInfo().Attr(Rt.IFLA_IFNAME, name),
                $"get link {name}", (type, payload) => found = ParseLink(type, payload));
        }
        catch (LinuxException e) when (e.Errno == 19) // ENODEV
        {
            return null;
        }
        return found;
    }

    private static NetworkLink? ParseLink(ushort type, ReadOnlySpan<byte> payload)
    {
            if (type != Rt.RTM_NEWLINK || payload.Length < 16) return null;
            int index = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(payload[8..]);
            string name = "";
            int master = 0;
            string? kind = null;
            NetlinkAttributes.ForEach(payload[16..], (t, v) =>
            {
                if (t == Rt.IFLA_IFNAME) name = NetlinkAttributes.String(v);
                else if (t == Rt.IFLA_MASTER && v.Length >= 4) master = BinaryPrimitives.ReadInt32LittleEndian(v);
                else if (t == Rt.IFLA_LINKINFO)
                    NetlinkAttributes.ForEach(v, (it, iv) =>
                    {
                        if (it == Rt.IFLA_INFO_KIND) kind = NetlinkAttributes.String(iv);
                        return true;
                    });
                return true;
            });
            return new NetworkLink(index, name, (flags & Rt.IFF_UP) != 0, master, kind);
    }

    public void SetLinkUp(int index) => Request(
        new NetlinkMessage(Rt.RTM_NEWLINK, Rt.NLM_F_REQUEST | Rt.NLM_F_ACK).IfInfo(index, Rt.IFF_UP, Rt.IFF_UP),
        $"set link {index} up");

    /// <summary>Attaches a link to a bridge (IFLA_MASTER) and brings it up in the same message.</summary>
    public void SetMasterAndUp(int index, int masterIndex) => Request(
        new NetlinkMessage(Rt.RTM_NEWLINK, Rt.NLM_F_REQUEST | Rt.NLM_F_ACK)
            .IfInfo(index, Rt.IFF_UP, Rt.IFF_UP)
            .Attr(Rt.IFLA_MASTER, masterIndex),
        $"attach link {index} to bridge {masterIndex}");

    public void CreateBridge(string name) => Request(
        new NetlinkMessage(Rt.RTM_NEWLINK, Rt.NLM_F_REQUEST | Rt.NLM_F_ACK | Rt.NLM_F_CREATE | Rt.NLM_F_EXCL)
            .IfInfo()
            .Attr(Rt.IFLA_IFNAME, name)
            .BeginNest(Rt.IFLA_LINKINFO).Attr(Rt.IFLA_INFO_KIND, "bridge").EndNest(),
        $"create bridge {name}");

    /// <summary>
    /// Creates a veth pair whose <paramref name="hostName"/> end stays in this socket's namespace and
    /// whose <paramref name="peerName"/> end is created directly inside the namespace behind
    /// <paramref name="peerNetns"/>: one message instead of create-then-move.
    /// </summary>
    public void CreateVethPair(string hostName, string peerName, SafeFd peerNetns)
    {
        bool added = false;
        peerNetns.DangerousAddRef(ref added);
        try
        {
            Request(
                new NetlinkMessage(Rt.RTM_NEWLINK, Rt.NLM_F_REQUEST | Rt.NLM_F_ACK | Rt.NLM_F_CREATE | Rt.NLM_F_EXCL)
                    .IfInfo()
                    .Attr(Rt.IFLA_IFNAME, hostName)
                    .BeginNest(Rt.IFLA_LINKINFO)
                        .Attr(Rt.IFLA_INFO_KIND, "veth")
                        .BeginNest(Rt.IFLA_INFO_DATA)
                            .BeginNest(Rt.VETH_INFO_PEER)
                                .IfInfo()
                                .Attr(Rt.IFLA_IFNAME, peerName)
                                .Attr(Rt.IFLA_NET_NS_FD, peerNetns.Value)
                            .EndNest()
                        .EndNest()
                    .EndNest(),
                $"create veth {hostName}/{peerName}");
        }
        finally { if (added) peerNetns.DangerousRelease(); }
    }

    public void DeleteLink(int index) => Request(
        new NetlinkMessage(Rt.RTM_DELLINK, Rt.NLM_F_REQUEST | Rt.NLM_F_ACK).IfInfo(index),
        $"delete link {index}");

    /// <summary>Deletes a link by name; returns false if there is none.</summary>
    public bool DeleteLink(string name)
    {
        try
        {
            Request(new NetlinkMessage(Rt.RTM_DELLINK, Rt.NLM_F_REQUEST | Rt.NLM_F_ACK).IfInfo().Attr(Rt.IFLA_IFNAME, name),
                $"delete link {name}");
            return true;
        }
        catch (LinuxException e) when (e.Errno == 19)
        {
            return false;
        }
    }

    /// <summary>
    /// Marks a bridge port isolated (IFLA_BRPORT_ISOLATED): isolated ports reach the bridge and
    /// non-isolated ports only, so one sandbox can never talk to another over the bridge.
    /// </summary>
    public void SetBridgePortIsolated(int index) => Request(
        // RTM_SETLINK, not NEWLINK: only SETLINK with AF_BRIDGE reaches the bridge's port settings;
        // NEWLINK accepts the same message and silently ignores IFLA_PROTINFO.
        new NetlinkMessage(Rt.RTM_SETLINK, Rt.NLM_F_REQUEST | Rt.NLM_F_ACK)
            .IfInfo(index, family: Rt.AF_BRIDGE)
            .BeginNest(Rt.IFLA_PROTINFO | Rt.NLA_F_NESTED).Attr(Rt.IFLA_BRPORT_ISOLATED, [1]).EndNest(),
        $"isolate bridge port {index}");
}
