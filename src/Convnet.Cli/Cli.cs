using System.CommandLine;
using Convnet.Cli.Commands;
using Convnet.Data;
using Convnet.IO;

namespace Convnet.Cli;

/// <summary>Builds the command tree and runs it, turning user errors into one clear line and exit code 1.</summary>
public static class Cli
{
    public const int ExitUserError = 1;
    public const int ExitInternalError = 70;
    public const int ExitCancelled = 130;

    public const string VerboseName = "--verbose";

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

    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("convnet — train and run convolutional networks on Kaggle-format image CSVs (Digit Recognizer).");
        root.Options.Add(CreateVerbose());
        root.Subcommands.Add(DataCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(PredictCommand.Create());
        root.Subcommands.Add(EvaluateCommand.Create());
        root.Subcommands.Add(ShowCommand.Create());
        root.Subcommands.Add(SummaryCommand.Create());
        root.Subcommands.Add(MergeCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        return root;
    }

    /// <param name="cancellation">Cancelled on Ctrl-C (see Program): a command stops at its next check and exits 130.</param>
    public static int Run(string[] args, TextWriter output, TextWriter error, CancellationToken cancellation = default)
    {
        var root = CreateRoot();
        var parse = root.Parse(args);
        var config = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
        return parse.InvokeAsync(config, cancellation).GetAwaiter().GetResult();
    }

    /// <summary>Runs a command body; maps the errors a user can cause to a message on stderr and exit code 1.</summary>
    public static int Execute(ParseResult parse, Func<TextWriter, int> body)
    {
        var error = parse.InvocationConfiguration.Error;
        bool verbose = parse.GetValue<bool>(VerboseName);
        try
        {
            return body(parse.InvocationConfiguration.Output);
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

    /// <summary>Fails before any work if a file we will write cannot be written there.</summary>
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
    }

    public static void CheckExists(string path, string what)
    {
        if (!File.Exists(path))
        {
            throw new UserError($"{what} '{path}' not found");
        }
    }
}
