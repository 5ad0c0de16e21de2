using System.Net;
using Thaw.Linux;
using Thaw.Linux.Netlink;

namespace Thaw.Resources.Netns;

/// <summary>
/// A pre-crafted network namespace (the paper's "pause container" without the container): pinned by
/// a bind mount at <see cref="Path"/>, held open as <see cref="Fd"/> for setns by a sandbox, with a
/// netlink socket made inside it so Thaw can check it between sandboxes.
/// </summary>
public sealed class PooledNetns
{
    internal PooledNetns(int id, string path, SafeFd fd, NetlinkSocket inside, IReadOnlyList<string> links)
    {
        Id = id;
        Path = path;
        Fd = fd;
        Inside = inside;
        Links = links;
    }

    public int Id { get; }

    /// <summary>The bind-mounted ns file (like /run/netns/NAME of `ip netns`).</summary>
    public string Path { get; }

    /// <summary>An open fd of the namespace, the thing a sandbox setns()es into.</summary>
    public SafeFd Fd { get; }

    public NetnsMode Mode => Address is null ? NetnsMode.None : NetnsMode.Bridge;

    /// <summary>Bridge mode: the host end of the veth pair.</summary>
    public string? HostVeth { get; internal init; }

    /// <summary>Bridge mode: the sandbox's address on eth0 and its gateway.</summary>
    public IPAddress? Address { get; internal init; }

    public IPAddress? Gateway { get; internal init; }

    internal NetlinkSocket Inside { get; }

    /// <summary>The links present right after crafting; a recycled namespace must still have exactly these.</summary>
    internal IReadOnlyList<string> Links { get; }

    public override string ToString() => Address is null ? $"netns {Id}" : $"netns {Id} ({Address})";
}
