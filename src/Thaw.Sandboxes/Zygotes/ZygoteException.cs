namespace Thaw.Sandboxes.Zygotes;

/// <summary>A zygote refused a request, or is gone.</summary>
public class ZygoteException(string message, Exception? inner = null) : Exception(message, inner);
