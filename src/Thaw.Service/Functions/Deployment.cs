using Thaw.Runtimes.Functions;

namespace Thaw.Service.Functions;

/// <summary>One deployed version of a function: its manifest and the directory holding its code (read-only from here on).</summary>
public sealed record Deployment(string Name, int Version, string CodeDir, FunctionManifest Manifest, DateTimeOffset DeployedAt);
