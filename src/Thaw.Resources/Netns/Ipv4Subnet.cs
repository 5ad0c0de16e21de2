using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Thaw.Resources.Netns;

/// <summary>An IPv4 network such as 10.213.0.0/16, with the arithmetic the address pool needs.</summary>
public readonly record struct Ipv4Subnet(uint Network, int PrefixLength)
{
    public static Ipv4Subnet Parse(string text)
    {
        var parts = text.Split('/');
        if (parts.Length != 2 || !IPAddress.TryParse(parts[0], out var ip) || ip.AddressFamily != AddressFamily.InterNetwork
            || !int.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out int prefix) || prefix is < 8 or > 30)
            throw new ArgumentException($"subnet '{text}' is not an IPv4 network in CIDR form with a prefix of 8 to 30 bits (e.g. 10.213.0.0/16)");
        uint value = ToUInt(ip);
        uint mask = Mask(prefix);
        if ((value & ~mask) != 0)
            throw new ArgumentException($"subnet '{text}' has host bits set; did you mean {FromUInt(value & mask)}/{prefix}?");
        return new Ipv4Subnet(value, prefix);
    }

    /// <summary>Usable host addresses: all but the network and broadcast addresses.</summary>
    public int HostCount => (int)Math.Min(int.MaxValue, (1L << (32 - PrefixLength)) - 2);

    /// <summary>The n-th host address, 1-based (1 is the gateway on the bridge).</summary>
    public IPAddress Host(int n) => FromUInt(Network + (uint)n);

    public bool Overlaps(IPAddress address, int prefixLength)
    {
        int shorter = Math.Min(prefixLength, PrefixLength);
        uint mask = Mask(shorter);
        return (ToUInt(address) & mask) == (Network & mask);
    }

    public override string ToString() => $"{FromUInt(Network)}/{PrefixLength}";

    private static uint Mask(int prefix) => prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);

    internal static uint ToUInt(IPAddress ip) => BinaryPrimitives.ReadUInt32BigEndian(ip.GetAddressBytes());

    internal static IPAddress FromUInt(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return new IPAddress(bytes);
    }
}
