using System.Collections.Concurrent;
using Spectre.Console;
using Wharf.Client.Images;

namespace Wharf.Cli.Client;

/// <summary>
/// Shows transfers: Spectre.Console progress bars on a terminal, one plain line per finished blob otherwise, nothing with
/// <c>--output json</c>. <see cref="RunAsync"/> runs the work inside the display.
/// </summary>
internal static class TransferDisplay
{
    public static async Task<T> RunAsync<T>(CliContext context, Func<ITransferObserver, Task<T>> work)
    {
        if (context.Json) return await work(NullTransferObserver.Instance);
        if (!context.Interactive) return await work(new LineObserver());
        return await context.Terminal.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn())
            .StartAsync(async progress => await work(new BarObserver(progress)));
    }

    private sealed class BarObserver(ProgressContext progress) : ITransferObserver
    {
        private readonly ConcurrentDictionary<string, ProgressTask> _tasks = new();

        public IProgress<long> Start(string id, string label, long total)
        {
            var task = _tasks.GetOrAdd(id, _ => progress.AddTask(Markup.Escape(label), maxValue: Math.Max(1, total)));
            return new Progress(task);
        }

        public void Complete(string id, string status)
        {
            if (_tasks.TryGetValue(id, out var task))
            {
                task.Value = task.MaxValue;
                task.Description = Markup.Escape($"{task.Description} {status}");
                task.StopTask();
            }
        }

        private sealed class Progress(ProgressTask task) : IProgress<long>
        {
            public void Report(long value) => task.Value = value;
        }
    }

    private sealed class LineObserver : ITransferObserver
    {
        private static readonly IProgress<long> Nothing = new Progress<long>();
        private readonly ConcurrentDictionary<string, (string Label, long Total)> _started = new();

        public IProgress<long> Start(string id, string label, long total)
        {
            _started[id] = (label, total);
            return Nothing;
        }

        public void Complete(string id, string status)
        {
            if (!_started.TryGetValue(id, out var started)) return;
            lock (this) Console.Out.WriteLine($"{started.Label}: {status} ({CliContext.Size(started.Total)})");
        }
    }
}
