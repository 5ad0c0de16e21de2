namespace Thaw.Sandboxes.Zygotes;

/// <summary>
/// The zygote died (or its connection broke) before it answered: nothing was forked for the
/// request, so it may be sent again, to the zygote's replacement or to its parent.
/// </summary>
public sealed class ZygoteGoneException(string message, Exception? inner = null) : ZygoteException(message, inner);
