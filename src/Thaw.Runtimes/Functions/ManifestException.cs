namespace Thaw.Runtimes.Functions;

/// <summary>A thaw.toml that cannot be used; the message names every problem.</summary>
public sealed class ManifestException(string message) : Exception(message);
