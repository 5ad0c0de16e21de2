using Thaw.Linux.Namespaces;
using Thaw.Linux.Netlink;
using Thaw.Resources.Netns;

namespace Thaw.Resources.Recovery;

/// <summary>Removes network namespaces, veths and the bridge that a crashed instance left behind.</summary>
public static class NetnsRecovery
{
    public static IReadOnlyList<string> Sweep(ThawNaming naming)
    {
        var removed = new List<string>();
        if (Directory.Exists(naming.NetnsDir))
        {
            removed.AddRange(Directory.EnumerateFiles(naming.NetnsDir, "*", SearchOption.AllDirectories).Select(f => "netns " + f));
            PinDirectory.Remove(naming.NetnsDir);
        }
        removed.AddRange(HostNat.Sweep(naming));
        using var host = new NetlinkSocket();
        // Host veth ends first (their peers go with them), then the bridge.
        foreach (var link in host.ListLinks().Where(l => l.Name.StartsWith(naming.VethPrefix, StringComparison.Ordinal)))
            if (host.DeleteLink(link.Name))
                removed.Add("link " + link.Name);
        if (host.DeleteLink(naming.BridgeName))
            removed.Add("link " + naming.BridgeName);
        return removed;
    }
}
