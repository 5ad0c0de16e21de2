namespace Thaw.Sandboxes;

/// <summary>A sandbox could not be created; everything it had claimed is back in the pools.</summary>
public sealed class SandboxException(string message, Exception? inner = null) : Exception(message, inner);
