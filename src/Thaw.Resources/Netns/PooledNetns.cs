using System.Net;
using Thaw.Linux;
using Thaw.Linux.Netlink;

namespace Thaw.Resources.Netns;

/// <summary>
/// A pre-crafted network namespace (the paper's "pause container" without the container): pinned by
/// a bind mount at <see cref="Path"/>, held open as <see cref="Fd"/> for setns by a sandbox, with a
/// netlink socket made inside it so Thaw can check it between sandboxes. Both descriptors are closed
/// while a started sandbox holds it (<see cref="CloseDescriptors"/>) and reopened when the pool
/// recycles it: a node of thousands of idle sandboxes would otherwise hit its open-files limit first.
/// </summary>
public sealed class PooledNetns
{
    private SafeFd? _fd;
    private NetlinkSocket? _inside;

    internal PooledNetns(int id, string path, SafeFd fd, NetlinkSocket inside, IReadOnlyList<string> links)
    {
        Id = id;
        Path = path;
        _fd = fd;
        _inside = inside;
        Links = links;
    }

    public int Id { get; }

    /// <summary>The bind-mounted ns file (like /run/netns/NAME of `ip netns`).</summary>
    public string Path { get; }

    /// <summary>An open fd of the namespace, the thing a sandbox setns()es into.</summary>
    public SafeFd Fd => _fd ?? throw new InvalidOperationException($"{this}: its descriptors are closed while a sandbox holds it");

    /// <summary>
    /// Closes the namespace fd and the netlink socket once a sandbox has entered (the pinned path keeps
    /// the namespace); the pool reopens them when it recycles the namespace, off the request path.
    /// </summary>
    public void CloseDescriptors()
    {
        _inside?.Dispose();
        _inside = null;
        _fd?.Dispose();
        _fd = null;
    }

    /// <summary>Reopens what <see cref="CloseDescriptors"/> closed: the pinned ns file, and a netlink socket made inside it.</summary>
    internal void ReopenDescriptors(Thaw.Linux.Namespaces.NamespaceThread thread)
    {
        _fd ??= Thaw.Linux.Files.FileDescriptors.OpenRead(Path);
        _inside ??= new NetlinkSocket(thread.OpenNetlinkIn(_fd));
    }

    public NetnsMode Mode => Address is null ? NetnsMode.None : NetnsMode.Bridge;

    /// <summary>Bridge mode: the host end of the veth pair.</summary>
    public string? HostVeth { get; internal init; }

    /// <summary>Bridge mode: the sandbox's address on eth0 and its gateway.</summary>
    public IPAddress? Address { get; internal init; }

    public IPAddress? Gateway { get; internal init; }

    internal NetlinkSocket Inside => _inside ?? throw new InvalidOperationException($"{this}: its descriptors are closed while a sandbox holds it");

    /// <summary>The links present right after crafting; a recycled namespace must still have exactly these.</summary>
    internal IReadOnlyList<string> Links { get; }

    public override string ToString() => Address is null ? $"netns {Id}" : $"netns {Id} ({Address})";
}
