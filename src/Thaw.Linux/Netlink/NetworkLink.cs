using System.Net;

namespace Thaw.Linux.Netlink;

/// <summary>One network interface as rtnetlink reports it.</summary>
public sealed record NetworkLink(int Index, string Name, bool Up, int MasterIndex, string? Kind);

/// <summary>One IPv4 address on an interface.</summary>
public sealed record NetworkAddress(int Index, IPAddress Address, int PrefixLength);

/// <summary>One IPv4 route in the main table (Destination 0.0.0.0/0 is the default route).</summary>
public sealed record NetworkRoute(IPAddress Destination, int PrefixLength, IPAddress? Gateway, int OutputIndex);
