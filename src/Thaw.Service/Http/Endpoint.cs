using System.Globalization;
using System.Net;

namespace Thaw.Service;

/// <summary>host:port as `thaw serve --listen` takes it ("localhost" means loopback; an IPv6 host in brackets).</summary>
public static class Endpoint
{
    public static bool TryParse(string text, out IPEndPoint endpoint)
    {
        endpoint = null!;
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > 65535)
            return false;
        string host = text[..colon].Trim('[', ']');
        IPAddress? address = host == "localhost" ? IPAddress.Loopback : IPAddress.TryParse(host, out var a) ? a : null;
        if (address is null)
            return false;
        endpoint = new IPEndPoint(address, port);
        return true;
    }
}
