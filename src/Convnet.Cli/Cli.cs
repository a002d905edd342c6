using System.Runtime.InteropServices;
using System.CommandLine;
using System.CommandLine.Help;
using Convnet.Cli.Commands;
using Convnet.Data;
using Convnet.IO;
using Convnet.Models;

namespace Convnet.Cli;

/// <summary>Builds the command tree and runs it, turning user errors into one clear line and exit code 1.</summary>
public static class Cli
{
    public const int ExitUserError = 1;
    public const int ExitInternalError = 70;
    public const int ExitCancelled = 130;

    public const string VerboseName = "--verbose";
    public const string MemoryLimitName = "--memory-limit";

    /// <summary>
    /// A new --verbose option for each root: an option object records every command it is added
    /// to, so a shared static one would keep each command tree alive and be mutated by
    /// concurrent runs in one process.
    /// </summary>
    private static Option<bool> CreateVerbose() => new(VerboseName)
    {
        Description = "Show stack traces and extra detail on errors.",
        Recursive = true,
    };

    private static Option<string?> CreateMemoryLimit() => new(MemoryLimitName)
    {
        HelpName = "SIZE",
        Description = "Refuse a model whose parameters and batch buffers are estimated above SIZE (e.g. 8G, 512M); default half of the memory available to the process.",
        Recursive = true,
    };

    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("convnet — train and run convolutional networks on Kaggle-format image CSVs (Digit Recognizer).");
        root.Options.Add(CreateVerbose());
        root.Options.Add(CreateMemoryLimit());
        root.Subcommands.Add(DataCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(PredictCommand.Create());
        root.Subcommands.Add(EvaluateCommand.Create());
        root.Subcommands.Add(ShowCommand.Create());
        root.Subcommands.Add(SummaryCommand.Create());
        root.Subcommands.Add(MergeCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(ImportCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(TuneCommand.Create());
        return root;
    }

    /// <param name="cancellation">Cancelled on Ctrl-C (see Program): a command stops at its next check and exits 130.</param>
    public static int Run(string[] args, TextWriter output, TextWriter error, CancellationToken cancellation = default)
    {
        var root = CreateRoot();
        var parse = root.Parse(args);
        if (parse.Action is not HelpAction && ParseErrors.Describe(parse) is { } problem)
        {
            error.WriteLine($"error: {problem} ({ParseErrors.HelpHint(parse)})");
            return ExitUserError;
        }
        var config = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
        return parse.InvokeAsync(config, cancellation).GetAwaiter().GetResult();
    }

    /// <summary>
    /// Runs <paramref name="body"/> with a token that Ctrl-C or SIGTERM cancel (as does
    /// <paramref name="cancellation"/>) instead of ending the process, so a long command stops
    /// between two steps and says what it kept.
    /// </summary>
    public static int RunCancellable(CancellationToken cancellation, Func<CancellationToken, int> body)
    {
        using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        void Cancel(PosixSignalContext context)
        {
            context.Cancel = true;
            interrupt.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
        return body(interrupt.Token);
    }

    /// <summary>Runs a command body; maps the errors a user can cause to a message on stderr and exit code 1.</summary>
    public static int Execute(ParseResult parse, Func<TextWriter, int> body)
    {
        var error = parse.InvocationConfiguration.Error;
        bool verbose = parse.GetValue<bool>(VerboseName);
        string? memoryLimit = parse.GetValue<string?>(MemoryLimitName);
        try
        {
            long? limit = memoryLimit is null ? null
                : MemoryBudget.ParseSize(memoryLimit) ?? throw new UserError($"{MemoryLimitName} needs a size such as 8G, 512M or a byte count, got '{memoryLimit}'");
            using var budget = limit is long bytes ? MemoryBudget.Use(bytes) : null;
            NoteThreadsCap(parse, error);
            return body(parse.InvocationConfiguration.Output);
        }
        catch (ModelTooLargeException e)
        {
            error.WriteLine($"error: {e.Message}{(e.AboveLimit ? $" (raise it with {MemoryLimitName})" : "")}");
            if (verbose)
            {
                error.WriteLine(e);
            }
            return ExitUserError;
        }
        catch (Exception e) when (e is UserError or DataFormatException or ModelFormatException)
        {
            error.WriteLine($"error: {e.Message}");
            if (verbose)
            {
                error.WriteLine(e);
            }
            return ExitUserError;
        }
        catch (OperationCanceledException)
        {
            error.WriteLine("cancelled: nothing was written.");
            return ExitCancelled;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"error: {e.Message}");
            if (verbose)
            {
                error.WriteLine(e);
            }
            return ExitUserError;
        }
        catch (Exception e)
        {
            error.WriteLine($"internal error: {e.Message}{(verbose ? "" : " (run with --verbose for details)")}");
            if (verbose)
            {
                error.WriteLine(e);
            }
            return ExitInternalError;
        }
    }

    /// <summary>Says once that a --threads above the core count is capped (by <see cref="Options.CheckThreads"/>).</summary>
    private static void NoteThreadsCap(ParseResult parse, TextWriter error)
    {
        if (parse.CommandResult.Command.Options.FirstOrDefault(o => o.Name == Options.ThreadsName) is Option<int> threads
            && parse.GetValue(threads) is int asked && asked > Environment.ProcessorCount)
        {
            error.WriteLine($"note: --threads {asked} is more than the {Environment.ProcessorCount} cores of this machine; using {Environment.ProcessorCount}.");
        }
    }

    /// <summary>
    /// Fails before any work if a file we will write cannot be written there: the folder must
    /// exist and really take a new file (one is created and deleted next to the target). Our own
    /// stale temporary files of that target are removed on the way (see <see cref="AtomicFile"/>).
    /// </summary>
    public static void CheckWritable(string path, string what)
    {
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (dir is null || !Directory.Exists(dir))
        {
            throw new UserError($"cannot write {what} '{path}': folder '{dir}' does not exist");
        }
        if (Directory.Exists(full))
        {
            throw new UserError($"cannot write {what} '{path}': it is a folder");
        }
        try
        {
            AtomicFile.CheckWritable(path);
        }
        catch (UnauthorizedAccessException)
        {
            throw new UserError($"cannot write {what} '{path}': no permission to create files in folder '{dir}'");
        }
        catch (IOException e)
        {
            throw new UserError(e.Message);
        }
    }

    /// <summary>
    /// <see cref="CheckWritable"/> for a folder we will write <paramref name="file"/> into: in it
    /// when it exists, else where its first missing part would be created (we create the rest).
    /// </summary>
    public static void CheckFolderWritable(string folder, string file, string what)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        if (File.Exists(full))
        {
            throw new UserError($"cannot write {what} in '{folder}': it is a file, not a folder");
        }
        string target = Path.Combine(full, file);
        while (Path.GetDirectoryName(target) is { } parent && !Directory.Exists(parent))
        {
            target = parent;
        }
        try
        {
            AtomicFile.CheckWritable(target);
        }
        catch (UnauthorizedAccessException)
        {
            throw new UserError($"cannot write {what} in '{folder}': no permission to create files in '{Path.GetDirectoryName(target)}'");
        }
        catch (IOException e)
        {
            throw new UserError($"cannot write {what} in '{folder}': {e.Message}");
        }
    }

    public static void CheckExists(string path, string what)
    {
        if (!File.Exists(path))
        {
            throw new UserError($"{what} '{path}' not found");
        }
    }
}
