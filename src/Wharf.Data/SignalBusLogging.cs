using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Wharf.Core.Signals;

namespace Wharf.Data;

/// <summary>Logs what signal handlers throw (a handler's failure never reaches the publisher).</summary>
internal static partial class SignalBusLogging
{
    public static InProcessSignalBus Logged(InProcessSignalBus bus, IServiceProvider services)
    {
        var logger = services.GetService<ILoggerFactory>()?.CreateLogger("Wharf.Data.Signals");
        if (logger is not null) bus.HandlerFailed = (topic, exception) => HandlerFailed(logger, topic, exception);
        return bus;
    }

    [LoggerMessage(EventId = 700, Level = LogLevel.Error, Message = "A handler of the {Topic} signal failed")]
    private static partial void HandlerFailed(ILogger logger, SignalTopic topic, Exception exception);
}
