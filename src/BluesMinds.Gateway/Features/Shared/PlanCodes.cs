using BluesMinds.Gateway.Data;
using Microsoft.EntityFrameworkCore;

namespace BluesMinds.Gateway.Features.Shared;

/// <summary>The code (<c>free</c>, <c>pro</c>, …) under which a plan is shown to clients.</summary>
internal static class PlanCodes
{
    public static Task<string> OfAsync(GatewayDbContext db, int planId, CancellationToken cancellationToken) =>
        db.BillingPlans.Where(p => p.Id == planId).Select(p => p.Code).SingleAsync(cancellationToken);
}
