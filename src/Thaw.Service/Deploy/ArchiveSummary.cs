namespace Thaw.Service.Deploy;

/// <summary>What a deploy archive unpacked to, for the deploy reply and the log.</summary>
/// <param name="Files">Regular files now in the function's directory (a file the archive repeats counts once).</param>
/// <param name="UnpackedBytes">Bytes written, repeated files included: the figure checked against the limit.</param>
/// <param name="Format">"tar.gz" or "zip", as told by the body's first bytes.</param>
public sealed record ArchiveSummary(int Files, long UnpackedBytes, string Format);
