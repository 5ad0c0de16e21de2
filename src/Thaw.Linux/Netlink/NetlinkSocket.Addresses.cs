using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Thaw.Linux.Netlink;

public sealed partial class NetlinkSocket
{
    public void AddAddress(int index, IPAddress address, int prefixLength)
    {
        if (address.AddressFamily != AddressFamily.InterNetwork)
            throw new ArgumentException("only IPv4 addresses are supported", nameof(address));
        var bytes = address.GetAddressBytes();
        Request(
            new NetlinkMessage(Rt.RTM_NEWADDR, Rt.NLM_F_REQUEST | Rt.NLM_F_ACK | Rt.NLM_F_CREATE | Rt.NLM_F_EXCL)
                .IfAddr(Rt.AF_INET, (byte)prefixLength, index)
                .Attr(Rt.IFA_LOCAL, bytes)
                .Attr(Rt.IFA_ADDRESS, bytes),
            $"add address {address}/{prefixLength} to link {index}");
    }

    public IReadOnlyList<NetworkAddress> ListAddresses()
    {
        var result = new List<NetworkAddress>();
        Dump(new NetlinkMessage(Rt.RTM_GETADDR, Rt.NLM_F_REQUEST | Rt.NLM_F_DUMP).IfAddr(Rt.AF_INET, 0, 0), "list addresses", (type, payload) =>
        {
            if (type != Rt.RTM_NEWADDR || payload.Length < 8 || payload[0] != Rt.AF_INET) return;
            int prefix = payload[1];
            int index = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
            IPAddress? address = null;
            NetlinkAttributes.ForEach(payload[8..], (t, v) =>
            {
                if ((t == Rt.IFA_LOCAL || (t == Rt.IFA_ADDRESS && address is null)) && v.Length == 4)
                    address = new IPAddress(v);
                return true;
            });
            if (address is not null)
                result.Add(new NetworkAddress(index, address, prefix));
        });
        return result;
    }

    /// <summary>Adds the default route through <paramref name="gateway"/> in the main table.</summary>
    public void AddDefaultRoute(IPAddress gateway, int outputIndex) => Request(
        new NetlinkMessage(Rt.RTM_NEWROUTE, Rt.NLM_F_REQUEST | Rt.NLM_F_ACK | Rt.NLM_F_CREATE | Rt.NLM_F_EXCL)
            .RtMsg(Rt.AF_INET, 0, Rt.RT_TABLE_MAIN, Rt.RTPROT_BOOT, Rt.RT_SCOPE_UNIVERSE, Rt.RTN_UNICAST)
            .Attr(Rt.RTA_GATEWAY, gateway.GetAddressBytes())
            .Attr(Rt.RTA_OIF, outputIndex),
        $"add default route via {gateway}");

    public IReadOnlyList<NetworkRoute> ListRoutes()
    {
        var result = new List<NetworkRoute>();
        Dump(new NetlinkMessage(Rt.RTM_GETROUTE, Rt.NLM_F_REQUEST | Rt.NLM_F_DUMP).RtMsg(Rt.AF_INET, 0, 0, 0, 0, 0), "list routes", (type, payload) =>
        {
            if (type != Rt.RTM_NEWROUTE || payload.Length < 12 || payload[0] != Rt.AF_INET) return;
            int dstLength = payload[1];
            int table = payload[4];
            IPAddress destination = IPAddress.Any;
            IPAddress? gateway = null;
            int oif = 0;
            NetlinkAttributes.ForEach(payload[12..], (t, v) =>
            {
                if (t == Rt.RTA_DST && v.Length == 4) destination = new IPAddress(v);
                else if (t == Rt.RTA_GATEWAY && v.Length == 4) gateway = new IPAddress(v);
                else if (t == Rt.RTA_OIF && v.Length >= 4) oif = BinaryPrimitives.ReadInt32LittleEndian(v);
                else if (t == Rt.RTA_TABLE && v.Length >= 4) table = BinaryPrimitives.ReadInt32LittleEndian(v);
                return true;
            });
            if (table == Rt.RT_TABLE_MAIN)
                result.Add(new NetworkRoute(destination, dstLength, gateway, oif));
        });
        return result;
    }
}
