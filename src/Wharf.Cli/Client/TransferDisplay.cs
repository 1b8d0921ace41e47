using System.Collections.Concurrent;
using Spectre.Console;
using Spectre.Console.Rendering;
using Wharf.Client;
using Wharf.Client.Images;

namespace Wharf.Cli.Client;

/// <summary>
/// Shows transfers: Spectre.Console progress bars on a terminal, one plain line per finished blob otherwise, nothing with
/// <c>--output json</c>. <see cref="RunAsync"/> runs the work inside the display. Sizes are in one unit system
/// (<see cref="ByteSize"/>: KiB, MiB), and labels are short, so that bar and percentage fit in 80 columns.
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
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = 16 }, new PercentageColumn(), new BytesColumn(), new SpeedColumn())
            .StartAsync(async progress => await work(new BarObserver(progress)));
    }

    /// <summary>"3.2 MiB/10 MiB" (bytes done of the total; only the bytes when the total is unknown).</summary>
    private sealed class BytesColumn : ProgressColumn
    {
        protected override bool NoWrap => true;

        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.IsIndeterminate ? ByteSize.Format(task.Value) : $"{ByteSize.Format(task.Value)}/{ByteSize.Format(task.MaxValue)}", new Style(Color.Grey));
    }

    /// <summary>"12 MiB/s" while the task runs.</summary>
    private sealed class SpeedColumn : ProgressColumn
    {
        protected override bool NoWrap => true;

        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            task.Speed is { } speed && !task.IsFinished ? new Text($"{ByteSize.Format(speed)}/s", new Style(Color.Grey)) : Text.Empty;
    }

    private sealed class BarObserver(ProgressContext progress) : ITransferObserver
    {
        private readonly ConcurrentDictionary<string, ProgressTask> _tasks = new();

        public IProgress<long> Start(string id, string label, long total)
        {
            var task = _tasks.GetOrAdd(id, _ => progress.AddTask(Markup.Escape(label), maxValue: Math.Max(1, total)));
            // An unknown total (docker save streams the archive): a moving bar and the bytes so far.
            task.IsIndeterminate = total <= 0;
            return new Progress(task);
        }

        public void Complete(string id, string status)
        {
            if (_tasks.TryGetValue(id, out var task))
            {
                if (task.IsIndeterminate) task.MaxValue = Math.Max(1, task.Value);
                task.IsIndeterminate = false;
                task.Value = task.MaxValue;
                // One word beside the label ("pushed", "compressed"): the sizes are in their own column, and the row fits 80 columns.
                task.Description = $"{task.Description} {Markup.Escape(status.Split(' ')[0])}";
                task.StopTask();
            }
        }

        private sealed class Progress(ProgressTask task) : IProgress<long>
        {
            public void Report(long value)
            {
                if (task.IsIndeterminate && value > task.MaxValue) task.MaxValue = value;
                task.Value = value;
            }
        }
    }

    /// <summary>
    /// One line per finished step: "3f2a9c1b0d4e: pushed (1.2 MiB)". The size is the bytes the step moved (its total, or what
    /// it reported when the total was unknown); a status that states its own sizes ("compressed 5 MiB to 1.2 MiB") gets none.
    /// </summary>
    private sealed class LineObserver : ITransferObserver
    {
        private readonly ConcurrentDictionary<string, Step> _started = new();

        public IProgress<long> Start(string id, string label, long total) => _started[id] = new Step(label, total);

        public void Complete(string id, string status)
        {
            if (!_started.TryGetValue(id, out var step)) return;
            var size = Math.Max(step.Total, step.Done);
            var line = status.Contains(' ', StringComparison.Ordinal) ? $"{step.Label}: {status}" : $"{step.Label}: {status} ({ByteSize.Format(size)})";
            lock (this) Console.Out.WriteLine(line);
        }

        private sealed class Step(string label, long total) : IProgress<long>
        {
            private long _done;

            public string Label { get; } = label;

            public long Total { get; } = total;

            public long Done => Interlocked.Read(ref _done);

            public void Report(long value) => Interlocked.Exchange(ref _done, value);
        }
    }
}
