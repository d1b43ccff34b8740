#!/usr/bin/env python
from grassroots.cli import main

if __name__ == "__main__":
    main()
