from ingestd.cli import main

if __name__ == "__main__":  # parse workers (forkserver) import this module; they must not run the CLI
    main()
