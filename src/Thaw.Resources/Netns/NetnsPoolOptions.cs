namespace Thaw.Resources.Netns;

public sealed class NetnsPoolOptions
{
    /// <summary>Namespaces kept ready. The Agile Cold Starts paper measured ~40 KB of kernel memory each.</summary>
    public int Size { get; set; } = 16;

    public NetnsMode Mode { get; set; } = NetnsMode.None;

    /// <summary>IPv4 subnet of bridge mode: the bridge takes the first host address, sandboxes the rest.</summary>
    public string Subnet { get; set; } = "10.213.0.0/16";

    /// <summary>Mark every sandbox's bridge port isolated so sandboxes cannot reach each other.</summary>
    public bool IsolatePorts { get; set; } = true;

    /// <summary>
    /// Bridge mode: masquerade the subnet so sandboxes reach beyond the host (turns on IPv4
    /// forwarding while the pool lives). Off by default: a sandbox reaches nothing unless asked.
    /// </summary>
    public bool Nat { get; set; }

    public void Validate()
    {
        if (Size < 0)
            throw new ArgumentException($"netns pool size must be 0 or more (got {Size})");
        if (Mode == NetnsMode.Bridge)
            _ = Ipv4Subnet.Parse(Subnet);
        else if (Nat)
            throw new ArgumentException("NAT needs bridge mode: a namespace in mode none has no link to masquerade");
    }
}
