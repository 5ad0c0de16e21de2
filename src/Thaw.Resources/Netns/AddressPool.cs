using System.Net;

namespace Thaw.Resources.Netns;

/// <summary>Hands out host addresses of the bridge subnet; .1 belongs to the bridge itself.</summary>
public sealed class AddressPool(Ipv4Subnet subnet)
{
    private readonly Stack<int> _free = new();
    private readonly Lock _lock = new();
    private int _next = 2;

    public Ipv4Subnet Subnet => subnet;

    public IPAddress Gateway => subnet.Host(1);

    public IPAddress Take()
    {
        lock (_lock)
        {
            if (_free.TryPop(out int n))
                return subnet.Host(n);
            if (_next > subnet.HostCount)
                throw new InvalidOperationException($"subnet {subnet} has no free address left for another network namespace; use a larger --subnet");
            return subnet.Host(_next++);
        }
    }

    public void Return(IPAddress address)
    {
        int n = (int)(Ipv4Subnet.ToUInt(address) - subnet.Network);
        lock (_lock)
            _free.Push(n);
    }
}
