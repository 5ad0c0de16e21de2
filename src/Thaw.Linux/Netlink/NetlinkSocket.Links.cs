using System.Buffers.Binary;

namespace Thaw.Linux.Netlink;

public sealed partial class NetlinkSocket
{
    public IReadOnlyList<NetworkLink> ListLinks()
    {
        var links = new List<NetworkLink>();
        Dump(new NetlinkMessage(Rt.RTM_GETLINK, Rt.NLM_F_REQUEST | Rt.NLM_F_DUMP).IfInfo(), "list links", (type, payload) =>
        {
            if (type != Rt.RTM_NEWLINK || payload.Length < 16) return;
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
            links.Add(new NetworkLink(index, name, (flags & Rt.IFF_UP) != 0, master, kind));
        });
        return links;
    }

    public NetworkLink? FindLink(string name) => ListLinks().FirstOrDefault(l => l.Name == name);

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
}
