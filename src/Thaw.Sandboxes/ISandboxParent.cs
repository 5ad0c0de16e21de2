namespace Thaw.Sandboxes;

/// <summary>Whoever can signal a sandbox's pid 1: the zygote that forked it, or thawd itself for an exec sandbox it cloned.</summary>
internal interface ISandboxParent
{
    void Kill(string id, int? pid, int signal);
}
