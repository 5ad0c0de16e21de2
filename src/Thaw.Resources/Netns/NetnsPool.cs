using Microsoft.Extensions.Logging;
using Thaw.Linux.Namespaces;
using Thaw.Linux.Netlink;
using Thaw.Resources.Pooling;

namespace Thaw.Resources.Netns;

/// <summary>
/// The Agile Cold Starts pool: network namespaces crafted before any request needs them, handed to a
/// sandbox at start, checked and recycled after it (destroying many at once stalls new creations via
/// the kernel's cleanup_net), destroyed only when the pool shrinks or Thaw stops.
/// </summary>
public sealed class NetnsPool : IDisposable
{
    private readonly NetlinkSocket _host;
    private readonly NamespaceThread _thread;
    private readonly bool _ownsThread;
    private readonly HostBridge? _bridge;
    private readonly string _dir;
    private readonly HostNat? _nat;

    public NetnsPool(ThawNaming naming, NetnsPoolOptions options, ILogger logger, NamespaceThread? thread = null)
    {
        options.Validate();
        Options = options;
        _dir = Path.Combine(naming.NetnsDir, options.Mode.ToString().ToLowerInvariant());
        PinDirectory.Prepare(_dir);
        _ownsThread = thread is null;
        _thread = thread ?? new NamespaceThread("thaw-netns");
        _host = new NetlinkSocket();
        try
        {
            if (options.Mode == NetnsMode.Bridge)
            {
                var subnet = Ipv4Subnet.Parse(options.Subnet);
                _bridge = HostBridge.Create(_host, naming.BridgeName, subnet);
                if (options.Nat)
                    _nat = HostNat.Enable(naming, subnet);
            }
            var factory = new NetnsFactory(naming, _dir, _thread, _host, _bridge) { IsolatePorts = options.IsolatePorts };
            Pool = new ResourcePool<PooledNetns>("netns-" + options.Mode.ToString().ToLowerInvariant(), factory, options.Size, logger);
            Naming = naming;
        }
        catch
        {
            _nat?.Disable();
            _bridge?.Delete(_host);
            _host.Dispose();
            if (_ownsThread) _thread.Dispose();
            PinDirectory.Remove(_dir);
            throw;
        }
    }

    public NetnsPoolOptions Options { get; }

    public ThawNaming Naming { get; }

    public ResourcePool<PooledNetns> Pool { get; }

    public HostBridge? Bridge => _bridge;

    public PooledNetns Claim() => Pool.Claim();

    public void Release(PooledNetns netns) => Pool.Release(netns);

    public PoolStats Stats() => Pool.Stats();

    public void Dispose()
    {
        Pool.Dispose();
        _nat?.Disable();
        _bridge?.Delete(_host);
        _host.Dispose();
        if (_ownsThread) _thread.Dispose();
        PinDirectory.Remove(_dir);
    }
}
