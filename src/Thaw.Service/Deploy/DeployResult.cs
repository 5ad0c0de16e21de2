using Thaw.Service.Functions;

namespace Thaw.Service.Deploy;

/// <summary>
/// A deploy that took: the new deployment, whether the function is new, the packages the install
/// cache provides it (name-version), the zygote its sandboxes fork from, and how long each step took.
/// </summary>
public sealed record DeployResult(Deployment Deployment, bool Created, IReadOnlyList<string> Installed, string Zygote, IReadOnlyList<string> PackagesSeen,
    double ExtractMs, double PackagesMs, double ValidateMs);
