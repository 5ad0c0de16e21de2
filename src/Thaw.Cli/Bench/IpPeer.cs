namespace Thaw.Cli.Bench;

/// <summary>
/// The peer Thaw is compared with: a network namespace set up the way container engines do it,
/// by exec'ing `ip` (netns add, lo up, veth pair, bridge attach, address, route), as in
/// shared/reference/measurements/netns_full.sh. Names carry the "thawbi" prefix so a crashed run's
/// leftovers are swept by the next one.
/// </summary>
internal sealed class IpPeer : IDisposable
{
    private const string Prefix = "thawbi";
    private const string Bridge = Prefix + "0";
    private readonly string _subnetBase; // e.g. "10.215.0"
    private int _next;

    public IpPeer(string subnetBase)
    {
        _subnetBase = subnetBase;
        Sweep();
        Sh($"ip link add {Bridge} type bridge && ip addr add {_subnetBase}.1/24 dev {Bridge} && ip link set {Bridge} up");
    }

    /// <summary>Creates one namespace; returns its name.</summary>
    public string Create(bool bridge)
    {
        int n = Interlocked.Increment(ref _next);
        string ns = $"{Prefix}-{n}";
        string script = $"ip netns add {ns} && ip -n {ns} link set lo up";
        if (bridge)
        {
            string veth = $"{Prefix}v{n}";
            string address = $"{_subnetBase}.{2 + (n % 250)}/24";
            script += $" && ip link add {veth} type veth peer name eth0 netns {ns} && ip link set {veth} master {Bridge} && ip link set {veth} up"
                + $" && ip -n {ns} addr add {address} dev eth0 && ip -n {ns} link set eth0 up && ip -n {ns} route add default via {_subnetBase}.1";
        }
        Sh(script);
        return ns;
    }

    public static void Destroy(string ns) => Sh($"ip netns del {ns}; ip link del {Prefix}v{ns[(Prefix.Length + 1)..]} 2>/dev/null; true");

    private static void Sweep()
    {
        Sh($"for ns in $(ip netns list | awk '{{print $1}}' | grep '^{Prefix}-'); do ip netns del $ns; done;"
            + $" for l in $(ip -o link show | awk -F': ' '{{print $2}}' | cut -d@ -f1 | grep '^{Prefix}'); do ip link del $l; done; true");
    }

    private static void Sh(string script) => PeerCommands.Run("/bin/sh", ["-c", script]);

    public void Dispose() => Sweep();
}
