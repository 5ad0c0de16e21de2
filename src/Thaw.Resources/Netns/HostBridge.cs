using Thaw.Linux.Netlink;

namespace Thaw.Resources.Netns;

/// <summary>The host side of bridge mode: the <c>thaw0</c>-style bridge holding the gateway address.</summary>
public sealed class HostBridge
{
    private HostBridge(string name, int index, AddressPool addresses)
    {
        Name = name;
        Index = index;
        Addresses = addresses;
    }

    public string Name { get; }

    public int Index { get; }

    public AddressPool Addresses { get; }

    /// <summary>
    /// Creates the bridge after checking that the subnet overlaps nothing on the host: an overlap would
    /// silently steal the host's routes, so it fails at start with the conflicting address named.
    /// </summary>
    public static HostBridge Create(NetlinkSocket host, string name, Ipv4Subnet subnet)
    {
        CheckNoOverlap(host, name, subnet);
        host.CreateBridge(name);
        try
        {
            var link = host.FindLink(name) ?? throw new InvalidOperationException($"bridge {name} vanished right after creation");
            var addresses = new AddressPool(subnet);
            host.AddAddress(link.Index, addresses.Gateway, subnet.PrefixLength);
            host.SetLinkUp(link.Index);
            return new HostBridge(name, link.Index, addresses);
        }
        catch
        {
            host.DeleteLink(name);
            throw;
        }
    }

    public static void CheckNoOverlap(NetlinkSocket host, string bridgeName, Ipv4Subnet subnet)
    {
        var names = host.ListLinks().ToDictionary(l => l.Index, l => l.Name);
        foreach (var a in host.ListAddresses())
        {
            string link = names.GetValueOrDefault(a.Index, "?");
            if (link != bridgeName && subnet.Overlaps(a.Address, a.PrefixLength))
                throw new ArgumentException($"bridge subnet {subnet} overlaps the host's address {a.Address}/{a.PrefixLength} on {link}; choose another subnet");
        }
        foreach (var r in host.ListRoutes())
        {
            string link = names.GetValueOrDefault(r.OutputIndex, "?");
            if (r.PrefixLength > 0 && link != bridgeName && subnet.Overlaps(r.Destination, r.PrefixLength))
                throw new ArgumentException($"bridge subnet {subnet} overlaps the host's route {r.Destination}/{r.PrefixLength} via {link}; choose another subnet");
        }
    }

    public void Delete(NetlinkSocket host) => host.DeleteLink(Name);
}
