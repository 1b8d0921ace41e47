using System.Collections.Concurrent;
using System.Reflection;

namespace Wharf.Testing;

/// <summary>
/// Wraps an interface so every call is counted by method name, then passed on: a test registers it over a provider
/// (<c>services.AddSingleton&lt;IRegistryStore&gt;(…)</c>) to see whether a path touches the store.
/// </summary>
public class CallCounter<T> : DispatchProxy where T : class
{
    private T _inner = null!;

    /// <summary>Calls made so far, by method name.</summary>
    public ConcurrentDictionary<string, int> Calls { get; } = new(StringComparer.Ordinal);

    public int Total => Calls.Values.Sum();

    /// <summary>Runs before each call is passed on, with the method's name and its count of calls, this one included.</summary>
    public Action<string, int>? BeforeCall { get; set; }

    public static (T Proxy, CallCounter<T> Counter) Wrap(T inner)
    {
        var proxy = Create<T, CallCounter<T>>();
        var counter = (CallCounter<T>)(object)proxy;
        counter._inner = inner;
        return (proxy, counter);
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        var calls = Calls.AddOrUpdate(targetMethod.Name, 1, (_, n) => n + 1);
        BeforeCall?.Invoke(targetMethod.Name, calls);
        try
        {
            return targetMethod.Invoke(_inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }
}
