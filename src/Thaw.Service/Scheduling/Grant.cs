using Thaw.Service.Functions;

namespace Thaw.Service.Scheduling;

/// <summary>A slot counted against its function's concurrency and the memory budget: the deployment to start and what the budget charged for it.</summary>
internal readonly record struct Grant(Deployment Deployment, long ChargedBytes);
