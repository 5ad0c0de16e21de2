namespace Thaw.Service;

/// <summary>The service layer's version, reported by /healthz and the registry's schema.</summary>
public static class ServiceInfo
{
    public const string ApiVersion = "v1";
}
