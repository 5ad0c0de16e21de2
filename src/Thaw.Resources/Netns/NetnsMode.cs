namespace Thaw.Resources.Netns;

/// <summary>How a pooled network namespace is wired.</summary>
public enum NetnsMode
{
    /// <summary>Loopback only: the sandbox can serve on localhost inside, and reach nothing.</summary>
    None,

    /// <summary>A veth pair to the host bridge, an address from the subnet and a default route.</summary>
    Bridge,
}
